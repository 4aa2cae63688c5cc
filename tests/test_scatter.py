"""The scatter engine on real meshes: evenness, density, exact counts, determinism, files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from openpipeline.engine.errors import Cancelled, EngineInputError
from openpipeline.engine.images import Image, read_image, write_image
from openpipeline.engine.scatter import quality, writers
from openpipeline.engine.scatter.density import DensityMap
from openpipeline.engine.scatter.distribute import ScatterParams, scatter
from openpipeline.engine.scatter.mesh import Mesh, Surface, check_mesh, load_mesh, triangulate
from openpipeline.engine.scatter.polish import nearest_others, restricted_lloyd, touching_edges
from openpipeline.engine.scatter.primitives import icosphere, plane, torus


@pytest.fixture(scope="module")
def ring():
    return torus(sections=64, rings=32)


def test_batch_ng_is_even_and_exact_on_a_torus(ring):
    """2,000 points: exact count, NQE within 3 % of the hexagonal optimum, no clumps."""
    result = scatter(ring, ScatterParams(count=2000, seed=1))
    assert result.count == 2000 and len(np.unique(result.ids)) == 2000
    figures = quality.evenness(ring, result.positions, samples=300_000)
    assert figures["nqe"] < 1.03
    assert figures["min_nn"] > 0.65
    random_points = quality.uniform_samples(ring, 2000, seed=3)[0]
    assert quality.evenness(ring, random_points, samples=300_000)["nqe"] > 1.8


def test_points_lie_on_the_surface_with_consistent_face_and_barycentrics(ring):
    """face_ids + barycentrics rebuild each position; normals are unit length."""
    result = scatter(ring, ScatterParams(count=500, seed=2))
    corners = ring.vertices[ring.faces[result.face_ids]]
    rebuilt = np.einsum("nk,nkc->nc", result.barycentrics, corners)
    assert np.allclose(rebuilt, result.positions, atol=1e-9)
    assert (result.barycentrics >= -1e-9).all() and np.allclose(result.barycentrics.sum(1), 1)
    assert np.allclose(np.linalg.norm(result.normals, axis=1), 1)
    radial = np.hypot(result.positions[:, 0], result.positions[:, 2]) - 1.0
    tube = np.hypot(radial, result.positions[:, 1])
    assert np.abs(tube - 0.35).max() < 0.01  # on the (faceted) tube surface
    assert result.uvs is not None and result.uvs.shape == (500, 2)


def test_same_seed_same_bits_other_seed_other_points(ring):
    """Deterministic: the same seed gives bitwise-identical output."""
    a = scatter(ring, ScatterParams(count=800, seed=7))
    b = scatter(ring, ScatterParams(count=800, seed=7))
    c = scatter(ring, ScatterParams(count=800, seed=8))
    for field in ("positions", "normals", "face_ids", "barycentrics", "uvs", "ids", "edges"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert not np.array_equal(a.positions, c.positions)


def test_density_map_is_followed(tmp_path):
    """On a 10:1 map the local point density follows the map with slope ≈ 1."""
    ground = plane(divisions=24)
    u = np.linspace(0, 1, 256)
    row = 1.0 + 9.0 * (0.5 - 0.5 * np.cos(2 * np.pi * u))  # 1..10 across u
    image = np.repeat(row[None, :, None], 64, axis=0).astype(np.float32)
    path = tmp_path / "density.exr"
    write_image(path, image, "float")
    density = DensityMap(read_image(path))
    result = scatter(ground, ScatterParams(count=4000, seed=3), density)
    target = density.lookup(result.uvs)
    inner = (np.abs(result.positions[:, 0]) < 0.8) & (np.abs(result.positions[:, 2]) < 0.8)
    fit = quality.density_fit(result.positions, target)
    fit_inner = quality.density_fit(result.positions[inner], target[inner])
    assert abs(fit_inner["slope"] - 1) < 0.15 and fit["correlation"] > 0.9


def test_vertex_weights_steer_density():
    """Per-vertex weights (Maya paint) attract points like a density map does."""
    ground = plane(divisions=16)
    weights = np.where(ground.vertices[:, 0] > 0, 4.0, 1.0)
    weighted = Mesh(ground.vertices, ground.faces, ground.corner_uvs, weights)
    result = scatter(weighted, ScatterParams(count=1000, seed=1))
    right = (result.positions[:, 0] > 0.1).sum()
    left = (result.positions[:, 0] < -0.1).sum()
    assert 3.0 < right / left < 5.0


@pytest.mark.parametrize("method", ["online-ng", "gng"])
def test_other_methods_give_exact_counts_and_a_graph(ring, method):
    """online-ng and gng also return exactly N points on the surface, with edges."""
    result = scatter(ring, ScatterParams(count=300, seed=1, method=method))
    assert result.count == 300
    corners = ring.vertices[ring.faces[result.face_ids]]
    rebuilt = np.einsum("nk,nkc->nc", result.barycentrics, corners)
    assert np.allclose(rebuilt, result.positions, atol=1e-9)
    assert (result.barycentrics >= -1e-9).all()
    assert result.edges is not None and len(result.edges) > 300
    assert result.edges.max() < 300
    assert quality.evenness(ring, result.positions, samples=100_000)["nqe"] < 1.6


def test_spacing_sets_the_count(ring):
    """A hexagonal spacing gives area / (√3/2 · d²) points."""
    area = quality.face_areas(ring.vertices, ring.faces).sum()
    result = scatter(ring, ScatterParams(spacing=0.1, seed=0))
    assert result.count == round(area / (math.sqrt(3) / 2 * 0.01))


def _exact_step(points: np.ndarray, size: float, divisions: int = 40):
    """One exact Lloyd step (ω = 1) for points (x, z) on a flat square of side ``size``."""
    ground = plane(size=size, divisions=divisions)
    surface = Surface(ground)
    xyz = np.stack([points[:, 0], np.zeros(len(points)), points[:, 1]], 1)
    on_surface = surface.project(xyz, surface.face_centres())
    table = nearest_others(on_surface.positions, 8)
    normals = surface.mesh_face_normals[on_surface.face_ids]
    moved, touches, bordered = restricted_lloyd(on_surface, normals, table, ground, surface.adjacency())
    return moved, touching_edges(touches, table), bordered, table


def test_exact_polish_on_a_hexagonal_lattice():
    """The exact cell centroid of a lattice point is the point itself; six Delaunay neighbours
    each; only the cells at the square's edge reach its border."""
    x, y = np.meshgrid(np.arange(30), np.arange(30))
    pts = np.stack([x + 0.5 * (y % 2) - 15, y * math.sqrt(3) / 2 - 13], -1).reshape(-1, 2).astype(float)
    moved, edges, bordered, table = _exact_step(pts, 34.0)
    inner = (np.abs(pts[:, 0]) < 11) & (np.abs(pts[:, 1]) < 9)
    assert np.abs(moved.positions[inner][:, [0, 2]] - pts[inner]).max() < 1e-9
    degree = np.bincount(edges.ravel(), minlength=len(pts))
    assert (degree[inner] == 6).all() and table.shape == (len(pts), 8)
    assert not bordered[inner].any() and bordered.sum() > 0


def test_exact_polish_finds_the_centroid_of_an_uneven_cell():
    """Neighbours at x = +2 and -4, y = ±2 and (1.5, 1.5) give the cell [-2, 1] × [-1, 1]
    less the corner beyond x + y = 1.5: its area-weighted centroid (not the mean of its
    vertices), and the five as Delaunay neighbours."""
    near = [[0, 0], [2, 0], [-4, 0], [0, 2], [0, -2], [1.5, 1.5]]
    far = [[20, 20], [20, -20], [-20, 20], [-20, -20]]
    moved, edges, _, _ = _exact_step(np.array(near + far, dtype=float), 60.0, divisions=7)
    # the rectangle (area 6, centroid (-0.5, 0)) less the triangle (1, 1), (1, 0.5), (0.5, 1)
    corner_area, corner_centre = 0.125, 2.5 / 3
    expected = np.array([-0.5 * 6 - corner_area * corner_centre, -corner_area * corner_centre])
    expected /= 6 - corner_area
    assert np.abs(moved.positions[0][[0, 2]] - expected).max() < 1e-9
    assert edges[(edges == 0).any(axis=1)].tolist() == [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5]]


def test_exact_polish_stops_cells_at_the_border():
    """Two points on a 2 × 2 square split it along their bisector x = 0: each cell is a half
    square, cut by the border, so each point moves to its half's centre (±0.5, 0)."""
    moved, _, bordered, _ = _exact_step(np.array([[-0.3, 0.2], [0.3, 0.2]]), 2.0, divisions=9)
    assert bordered.all()
    assert np.abs(moved.positions[:, [0, 2]] - [[-0.5, 0.0], [0.5, 0.0]]).max() < 1e-9


def test_progress_is_reported_and_cancel_stops(ring):
    """The callback sees rising fractions; returning False cancels."""
    seen = []
    scatter(ring, ScatterParams(count=300), progress=lambda p: seen.append(p.fraction))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        scatter(ring, ScatterParams(count=300), progress=lambda p: p.fraction < 0.3)


def test_writers_produce_the_same_fields(ring, tmp_path):
    """npz, json and USD hold the same arrays; the USD file opens with usd-core."""
    result = scatter(ring, ScatterParams(count=200, seed=4))
    writers.write(result, tmp_path / "p.npz")
    writers.write(result, tmp_path / "p.json")
    writers.write(result, tmp_path / "p.usda")
    writers.write(result, tmp_path / "p.usd")
    names = {"positions", "normals", "face_ids", "barycentrics", "uvs", "ids", "edges"}
    with np.load(tmp_path / "p.npz") as data:
        assert set(data.files) == names
        assert np.array_equal(data["positions"], result.positions)
        for name in names:
            assert np.array_equal(data[name], getattr(result, name)), name
    loaded = json.loads((tmp_path / "p.json").read_text())
    assert np.allclose(loaded["positions"], result.positions)
    assert loaded["edges"] == result.edges.tolist()
    assert names <= set(loaded)
    for name in names:
        assert np.array_equal(loaded[name], getattr(result, name)), name
    from pxr import Usd, UsdGeom

    for name in ("p.usda", "p.usd"):
        stage = Usd.Stage.Open(str(tmp_path / name))
        instancer = UsdGeom.PointInstancer(stage.GetPrimAtPath("/Scatter/points"))
        positions = np.array(instancer.GetPositionsAttr().Get())
        assert positions.shape == (200, 3)
        assert np.allclose(positions, result.positions, atol=1e-6)
        assert len(instancer.GetProtoIndicesAttr().Get()) == 200
        assert len(instancer.GetOrientationsAttr().Get()) == 200
        assert list(instancer.GetIdsAttr().Get()) == list(range(200))
    q = writers.orientations(result.normals)
    w, v = q[:, :1], q[:, 1:]
    up = np.array([0.0, 1.0, 0.0])
    turned = up + 2 * w * np.cross(v, up) + 2 * np.cross(v, np.cross(v, up))
    assert np.allclose(turned, result.normals, atol=1e-9)
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("mesh,message", [
    (Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64)), "is empty"),
    (Mesh(np.eye(3), np.array([[0, 1, 5]])), "outside its vertex list"),
    (Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]])), "zero surface area"),
    (Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, -1, 0.0]]),
          np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])), "non-manifold"),
])
def test_bad_meshes_are_refused(mesh, message):
    """Empty, broken and non-manifold meshes get one clear sentence."""
    with pytest.raises(EngineInputError, match=message):
        check_mesh(mesh)


def test_bad_parameters_are_refused(ring):
    """Count below one, unknown method, density without UVs: clear errors."""
    with pytest.raises(EngineInputError, match="at least 1"):
        scatter(ring, ScatterParams(count=0))
    with pytest.raises(EngineInputError, match="not known"):
        scatter(ring, ScatterParams(count=10, method="kmeans"))
    image = Image(np.ones((4, 4, 1), np.float32), ["Y"], "float")
    with pytest.raises(EngineInputError, match="no UVs"):
        scatter(icosphere(2), ScatterParams(count=10), DensityMap(image))


def test_obj_files_load_with_uvs(tmp_path):
    """An OBJ with UVs loads through trimesh with per-corner UVs."""
    obj = tmp_path / "quad.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 1 0 -1\nv 0 0 -1\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
                   "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    mesh = load_mesh(obj)
    assert mesh.corner_uvs is not None and mesh.faces.shape == (2, 3)
    assert triangulate(np.array([4]), np.array([0, 1, 2, 3])).tolist() == [[0, 1, 2], [0, 2, 3]]
