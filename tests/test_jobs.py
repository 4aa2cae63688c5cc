"""Jobs as values: keys that follow every input byte and parameter, round trips, delivery, rebind."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from openpipeline.engine.cache import ResultCache
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import write_image
from openpipeline.engine.jobs import job_from_dict, run_cached
from openpipeline.engine.scatter import ScatterParams, load_mesh
from openpipeline.engine.scatter.job import ScatterJob, load_result, mesh_digest, rebind, save_mesh
from openpipeline.engine.scatter.job import deliver as deliver_points
from openpipeline.engine.scatter.primitives import icosphere, torus
from openpipeline.engine.texture import RestoreParams
from openpipeline.engine.texture.job import TextureJob
from openpipeline.engine.texture.job import deliver as deliver_texture
from tests.helpers.images import noisy_version, pattern

FAST = RestoreParams(max_iterations=3, threads=1)


def _flip_byte(path, offset=-1):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


@pytest.fixture
def texture_files(tmp_path):
    for tile in ("1001", "1002"):
        write_image(tmp_path / f"tex.{tile}.png", noisy_version(pattern(24), seed=int(tile)))
        mask = np.zeros((24, 24, 1), np.float32)
        mask[4:8, 4:8] = 1
        write_image(tmp_path / f"mask.{tile}.png", mask)
    write_image(tmp_path / "flash.png", pattern(24))
    return tmp_path


def test_texture_key_follows_every_input_byte(texture_files):
    """Changing one byte of any UDIM tile, of a tile's mask or of the guide changes the key."""
    job = TextureJob(str(texture_files / "tex.<UDIM>.png"), FAST, mask=str(texture_files / "mask.<UDIM>.png"),
                     guide=str(texture_files / "flash.png"))
    keys = {job.key()}
    for name in ("tex.1001.png", "tex.1002.png", "mask.1001.png", "mask.1002.png", "flash.png"):
        _flip_byte(texture_files / name, offset=-5)
        keys.add(job.key())
    assert len(keys) == 6


def test_texture_key_follows_parameters_not_device_or_threads(texture_files):
    """Seed, iterations, time budget and format change the key; device and threads do not."""
    job = TextureJob(str(texture_files / "tex.1001.png"), FAST)
    same = [TextureJob(job.source, dataclasses.replace(FAST, device="cuda", threads=7)),
            TextureJob(job.source, dataclasses.replace(FAST, device="cpu", threads=None))]
    assert {other.key() for other in same} == {job.key()}
    different = [TextureJob(job.source, dataclasses.replace(FAST, seed=1)),
                 TextureJob(job.source, dataclasses.replace(FAST, max_iterations=4)),
                 TextureJob(job.source, dataclasses.replace(FAST, time_budget=5.0)),
                 TextureJob(job.source, dataclasses.replace(FAST, operation="upscale")),
                 TextureJob(job.source, FAST, suffix=".exr")]
    assert len({job.key()} | {other.key() for other in different}) == 6


def test_texture_key_ignores_the_file_name(texture_files):
    """The key is the content's: the same bytes under another name give the same key."""
    copy = texture_files / "copy.png"
    copy.write_bytes((texture_files / "tex.1001.png").read_bytes())
    assert TextureJob(str(copy), FAST).key() == TextureJob(str(texture_files / "tex.1001.png"), FAST).key()


def test_jobs_round_trip_through_dicts(texture_files):
    """job_from_dict(job.to_dict()) gives the same job, for both kinds."""
    texture = TextureJob(str(texture_files / "tex.<UDIM>.png"), FAST, mask="m.<UDIM>.png", suffix=".exr")
    scatter = ScatterJob("ball.obj", ScatterParams(count=10, max_memory=10**9), density="d.png",
                         density_channel="G")
    assert job_from_dict(texture.to_dict()) == texture
    assert job_from_dict(scatter.to_dict()) == scatter
    with pytest.raises(EngineInputError, match="not known"):
        job_from_dict({"kind": "teapot"})


def test_scatter_key_follows_mesh_density_and_params_not_limits(tmp_path):
    """Mesh bytes, density bytes, channel and count change the key; max_memory and max_points do not."""
    from tests.test_scatter_cli import write_obj

    mesh = write_obj(torus(sections=12, rings=8), tmp_path / "t.obj")
    density = tmp_path / "d.png"
    write_image(density, pattern(8))
    job = ScatterJob(str(mesh), ScatterParams(count=20), density=str(density))
    assert ScatterJob(job.mesh, ScatterParams(count=20, max_memory=10**9, max_points=50),
                      density=job.density).key() == job.key()
    keys = {job.key(), ScatterJob(job.mesh, ScatterParams(count=21), density=job.density).key(),
            ScatterJob(job.mesh, ScatterParams(count=20, seed=1), density=job.density).key(),
            ScatterJob(job.mesh, job.params, density=job.density, density_channel="G").key()}
    _flip_byte(density, offset=-5)
    keys.add(job.key())
    mesh.write_text(mesh.read_text().replace("v 1", "v 1.5", 1))
    keys.add(job.key())
    assert len(keys) == 6


def test_npz_mesh_key_is_its_arrays(tmp_path):
    """Two .npz files of the same mesh (written at different times, other names) share a key;
    load_mesh reads them back exactly."""
    mesh = icosphere(1)
    first, second = save_mesh(mesh, tmp_path / "a.npz"), save_mesh(mesh, tmp_path / "b.npz")
    params = ScatterParams(count=10)
    assert ScatterJob(str(first), params).key() == ScatterJob(str(second), params).key()
    loaded = load_mesh(first)
    assert np.array_equal(loaded.vertices, mesh.vertices) and np.array_equal(loaded.faces, mesh.faces)
    assert mesh_digest(loaded) == mesh_digest(mesh)
    moved = dataclasses.replace(mesh, vertices=mesh.vertices * 1.001)
    assert mesh_digest(moved) != mesh_digest(mesh)


def test_texture_run_cached_delivers_the_same_bits(tmp_path, texture_files):
    """A second run of the same job is a hit and delivers the first run's bytes (UDIM set)."""
    cache = ResultCache(tmp_path / "cache")
    job = TextureJob(str(texture_files / "tex.<UDIM>.png"), FAST)
    first, reused_first = run_cached(job, cache)
    second, reused_second = run_cached(job, cache)
    assert (reused_first, reused_second) == (False, True) and first is not None and second is not None
    assert first.meta["files"] == ["restored.1001.png", "restored.1002.png"]
    a = deliver_texture(first, str(tmp_path / "a.<UDIM>.png"))
    b = deliver_texture(second, str(tmp_path / "b.<UDIM>.png"))
    assert [p.name for p in b] == ["b.1001.png", "b.1002.png"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_run_without_cache_leaves_no_folder(tmp_path, texture_files):
    """With no cache the job runs into a temporary folder that result_of removes."""
    from openpipeline.engine.jobs import result_of

    with result_of(TextureJob(str(texture_files / "tex.1001.png"), FAST), None) as (entry, reused):
        assert not reused and entry.files()[0].is_file()
        folder = entry.folder
    assert not folder.exists()


def test_rebind_follows_a_deformed_mesh(tmp_path):
    """Rebinding on the original mesh gives the scattered positions; on a moved and scaled
    mesh, the positions move with it and normals stay unit face normals."""
    mesh = icosphere(2)
    cache = ResultCache(tmp_path / "cache")
    job = ScatterJob(str(save_mesh(mesh, tmp_path / "m.npz")), ScatterParams(count=50))
    entry, _ = run_cached(job, cache)
    assert entry is not None
    result = load_result(entry)
    positions, normals = rebind(mesh.vertices, mesh.faces, result.face_ids, result.barycentrics)
    assert np.allclose(positions, result.positions, atol=1e-9)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert (np.einsum("nc,nc->n", normals, result.normals) > 0.9).all()
    moved, _ = rebind(mesh.vertices * 2 + 1, mesh.faces, result.face_ids, result.barycentrics)
    assert np.allclose(moved, positions * 2 + 1)
    deliver_points(entry, str(tmp_path / "p.json"))
    assert (tmp_path / "p.json").stat().st_size > 0


def test_describing_and_checking_a_texture_job_never_loads_torch():
    """The CLI's cache look-up and the Maya node's logic describe and check a texture job
    without torch (a cache hit answers at once; Maya's process never loads the engine);
    the package's engine functions still load on first use."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from openpipeline.engine.texture import RestoreParams, TextureJob, udim_paths\n"
        "import openpipeline.engine.texture.inputs, openpipeline.engine.texture.job\n"
        "import openpipeline.dg.texture_node, openpipeline.cli.texture\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "import openpipeline.engine.texture.restoration\n"
        "from openpipeline.engine.texture import restore, restore_file\n"
        "assert callable(restore) and callable(restore_file) and restore.__module__.endswith('restoration')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@dataclasses.dataclass(frozen=True)
class _CopyJob:
    """A cheap job: its result is one file of known bytes."""

    payload: bytes
    kind = "texture"

    def key(self) -> str:
        import hashlib

        return hashlib.sha256(self.payload).hexdigest()

    def run(self, folder, progress=None) -> dict:
        (folder / "restored.bin").write_bytes(self.payload)
        return {"files": ["restored.bin"]}

    def to_dict(self) -> dict:
        return {}


def test_a_result_pruned_between_lookup_and_delivery_is_delivered_anyway(tmp_path):
    """Two real processes prune the shared cache to nothing in a loop while this one
    delivers the same job again and again: every delivery succeeds with the right bytes."""
    import shutil
    import subprocess
    import sys
    import time

    from openpipeline.engine.jobs import deliver_cached

    root = tmp_path / "cache"
    root.mkdir()
    loop = (f"from pathlib import Path\nfrom openpipeline.engine.cache import ResultCache\n"
            f"cache = ResultCache(Path({str(root)!r}))\nwhile True:\n    cache.prune(0)\n")
    pruners = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]
    job, cache = _CopyJob(b"x" * 200_000), ResultCache(root)

    def use(entry, reused):
        time.sleep(0.002)  # a delivery takes a moment: the pruners get their chance
        shutil.copyfile(entry.files()[0], tmp_path / "out.bin")
        return reused

    try:
        time.sleep(0.5)
        for _ in range(150):
            deliver_cached(job, cache, use)
            assert (tmp_path / "out.bin").read_bytes() == job.payload
    finally:
        for pruner in pruners:
            pruner.kill()
            pruner.wait()
