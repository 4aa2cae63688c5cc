"""The opNeuralGasScatter node logic: mesh arrays -> saved mesh -> ScatterJob -> points that
follow the mesh's deformation without a new scatter."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from openpipeline.dg.scatter_node import INPUTS_FOLDER, Binding, ScatterInputs, ScatterNode
from openpipeline.engine.cache import ResultCache
from openpipeline.engine.scatter.job import load_result, mesh_digest
from openpipeline.engine.scatter.primitives import icosphere, plane


def no_job(*_args):
    raise AssertionError("no job may start here")


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    return ResultCache(tmp_path / "cache")


def ball(**values) -> ScatterInputs:
    mesh = icosphere(1)
    return ScatterInputs(vertices=mesh.vertices, faces=mesh.faces, count=values.pop("count", 20), **values)


def moved(inputs: ScatterInputs, scale: float, offset: tuple[float, float, float]) -> ScatterInputs:
    """The same mesh, scaled and translated (a deformation: same topology, new positions)."""
    return ScatterInputs(vertices=inputs.vertices * scale + np.array(offset), faces=inputs.faces,
                         corner_uvs=inputs.corner_uvs, count=inputs.count, spacing=inputs.spacing,
                         seed=inputs.seed, method=inputs.method, result_key=inputs.result_key)


def test_no_mesh_is_idle(cache):
    """An empty mesh: idle, no points, no job."""
    empty = ScatterInputs(np.zeros((0, 3)), np.zeros((0, 3), int))
    out = ScatterNode(start=no_job).evaluate(empty, cache, batch=False)
    assert out.status == "idle" and out.positions.shape == (0, 3)


@pytest.mark.parametrize(("values", "words"), [
    ({"count": 0}, "Count must be at least 1"),
    ({"spacing": -0.5}, "Spacing must be 0"),
    ({"method": "random"}, "Method 'random' is not known"),
    ({"seed": -3}, "Seed must be a whole number"),
])
def test_bad_inputs_fail_with_one_sentence_and_start_no_job(cache, values, words):
    """Settings the engine refuses: status failed with its sentence, no points, no job, no saved mesh."""
    out = ScatterNode(start=no_job).evaluate(ball(**values), cache, batch=False)
    assert out.status == "failed" and words in out.message and out.message.endswith(".")
    assert len(out.positions) == 0 and not (cache.root / INPUTS_FOLDER).exists()


@pytest.mark.slow
def test_batch_scatters_and_binds(cache):
    """In batch the scatter runs at once: the points, their ids, face ids and barycentrics, and a
    binding naming the cached result; the mesh is saved once under inputs/, named by its digest."""
    inputs = ball()
    out = ScatterNode(start=no_job).evaluate(inputs, cache, batch=True)
    assert out.status == "cached", out.message
    assert out.positions.shape == out.normals.shape == out.barycentrics.shape == (20, 3)
    assert out.ids.tolist() == list(range(20)) and out.face_ids.max() < len(inputs.faces)
    binding = Binding.parse(out.result_key)
    assert binding is not None and cache.get("scatter", binding.key) is not None
    assert [p.name for p in (cache.root / INPUTS_FOLDER).iterdir()] == [f"{mesh_digest(inputs.mesh())}.npz"]
    result = load_result(cache.get("scatter", binding.key))
    assert np.array_equal(out.positions, result.positions)


@pytest.mark.slow
def test_deformation_rebinds_without_a_job(cache):
    """Moving and scaling the mesh moves the points exactly with it: no new scatter, no job, no entry."""
    inputs = ball()
    node = ScatterNode(start=no_job)
    first = node.evaluate(inputs, cache, batch=True)
    entries = len(cache.entries())
    for scale, offset in ((1.0, (5.0, -2.0, 0.5)), (2.5, (0.0, 1.0, 0.0))):
        out = node.evaluate(moved(inputs, scale, offset), cache, batch=False)
        assert out.status == "cached" and out.result_key == first.result_key
        expected = first.positions * scale + np.array(offset)
        np.testing.assert_allclose(out.positions, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(out.normals, first.normals, atol=1e-12)
        assert np.array_equal(out.face_ids, first.face_ids)
    assert len(cache.entries()) == entries and len(list((cache.root / INPUTS_FOLDER).iterdir())) == 1


@pytest.mark.slow
def test_a_reopened_scene_rebinds_a_deformed_pose(cache):
    """A new node (scene reopened) given the stored resultKey and a deformed pose binds to the
    original result instead of scattering the deformed mesh."""
    inputs = ball()
    first = ScatterNode().evaluate(inputs, cache, batch=True)
    deformed = moved(ScatterInputs(inputs.vertices, inputs.faces, count=20, result_key=first.result_key),
                     1.5, (0.0, 0.0, 3.0))
    out = ScatterNode(start=no_job).evaluate(deformed, cache, batch=False)
    assert out.status == "cached" and out.result_key == first.result_key
    np.testing.assert_allclose(out.positions, first.positions * 1.5 + np.array([0, 0, 3.0]), atol=1e-12)


@pytest.mark.slow
def test_a_stored_binding_of_other_settings_is_not_used(cache):
    """A resultKey scattered with other settings (here another count) is ignored: the node scatters anew."""
    first = ScatterNode().evaluate(ball(), cache, batch=True)
    out = ScatterNode().evaluate(ball(count=12, result_key=first.result_key), cache, batch=True)
    assert out.status == "cached" and len(out.positions) == 12 and out.result_key != first.result_key


@pytest.mark.slow
def test_a_new_topology_scatters_again(cache):
    """Another mesh (other faces) is not a deformation: a new scatter on it."""
    node = ScatterNode()
    first = node.evaluate(ball(), cache, batch=True)
    flat = plane(divisions=4)
    out = node.evaluate(ScatterInputs(flat.vertices, flat.faces, count=20), cache, batch=True)
    assert out.status == "cached" and out.result_key != first.result_key
    assert np.allclose(out.positions[:, 2], 0.0) or np.allclose(out.positions[:, 1], 0.0)


@pytest.mark.slow
def test_interactive_scatter_runs_in_the_background_and_dirties_when_done(cache):
    """Interactive: 'running' with no points at once; on_change fires when the worker is done;
    the next evaluation gives the points."""
    done = threading.Event()
    node = ScatterNode(on_change=done.set)
    first = node.evaluate(ball(), cache, batch=False)
    assert first.status == "running" and len(first.positions) == 0
    handle = node.state.handle
    assert handle is not None and handle.wait(120) == "done", handle.message
    assert done.wait(10)
    out = node.evaluate(ball(), cache, batch=False)
    assert out.status == "cached" and out.positions.shape == (20, 3)


@pytest.mark.slow
def test_new_settings_cancel_the_running_scatter_and_show_the_old_points(cache):
    """While a new scatter of the same mesh runs, the old points stay; newer settings cancel it."""
    node = ScatterNode(on_change=lambda: None)
    first = node.evaluate(ball(), cache, batch=True)
    running = node.evaluate(ball(count=5000, method="gng"), cache, batch=False)
    assert running.status == "running" and np.array_equal(running.positions, first.positions)
    old = node.state.handle
    node.evaluate(ball(count=4000, method="gng"), cache, batch=False)
    assert old is not None and old.wait(10) == "cancelled"
    current = node.state.handle
    node.dispose()
    assert current is not None and current.wait(10) == "cancelled"


def test_corner_uvs_follow_each_polygons_face_vertices():
    """Maya's per-polygon triangles and UV ids become per-corner UVs, polygon by polygon; a
    polygon without UVs leaves the mesh without UVs."""
    from openpipeline.dg.scatter_node import corner_uvs

    us, vs = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]
    # polygon 0: a quad, UV ids 3,2,1,0 (two triangles); polygon 1: a triangle, UV ids 4,5,6
    uvs = corner_uvs([2, 1], [0, 1, 2, 0, 2, 3, 0, 1, 2], [4, 3], [3, 2, 1, 0, 4, 5, 6], us, vs)
    assert uvs is not None and uvs.shape == (3, 3, 2)
    assert uvs[:, :, 0].tolist() == [[0.3, 0.2, 0.1], [0.3, 0.1, 0.0], [0.4, 0.5, 0.6]]
    assert corner_uvs([2, 1], [0, 1, 2, 0, 2, 3, 0, 1, 2], [4, 0], [3, 2, 1, 0], us, vs) is None


@pytest.mark.slow
def test_a_reopened_scene_whose_result_left_the_cache_scatters_its_original_pose(cache):
    """When the stored result was pruned, the node scatters the pose the binding names (its
    saved mesh), not the deformed one: the same key, and the points rebound onto the new pose."""
    inputs = ball()
    first = ScatterNode().evaluate(inputs, cache, batch=True)
    (entry,) = cache.entries()  # the result leaves (LRU); its saved mesh stays
    shutil.rmtree(entry.folder)
    assert any((cache.root / INPUTS_FOLDER).iterdir())
    stored = ScatterInputs(inputs.vertices, inputs.faces, count=20, result_key=first.result_key)
    out = ScatterNode().evaluate(moved(stored, 1.0, (2.0, 0.0, 0.0)), cache, batch=True)
    assert out.status == "cached" and out.result_key == first.result_key
    np.testing.assert_allclose(out.positions, first.positions + np.array([2.0, 0, 0]), atol=1e-12)
