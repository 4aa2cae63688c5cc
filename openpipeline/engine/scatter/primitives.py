"""Simple meshes with UVs, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import numpy as np

from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh


def _grid(nu: int, nv: int, wrap_u: bool, wrap_v: bool) -> tuple[IntArray, FloatArray, IntArray]:
    """Quads of a (nu × nv) parameter grid split into triangles, with corner UVs."""
    grid_u, grid_v = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    iu, iv = grid_u.ravel(), grid_v.ravel()
    cols = nv if wrap_v else nv + 1

    def vid(u: IntArray, v: IntArray) -> IntArray:
        return np.asarray((u % nu if wrap_u else u) * cols + (v % nv if wrap_v else v))

    a, b = vid(iu, iv), vid(iu + 1, iv)
    c, d = vid(iu + 1, iv + 1), vid(iu, iv + 1)
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    uv_a = np.stack([iu / nu, iv / nv], 1)
    uv_b = np.stack([(iu + 1) / nu, iv / nv], 1)
    uv_c = np.stack([(iu + 1) / nu, (iv + 1) / nv], 1)
    uv_d = np.stack([iu / nu, (iv + 1) / nv], 1)
    corner_uvs = np.concatenate([np.stack([uv_a, uv_b, uv_c], 1), np.stack([uv_a, uv_c, uv_d], 1)])
    return faces.astype(np.int64), corner_uvs, np.array([nu if wrap_u else nu + 1, cols])


def torus(major: float = 1.0, minor: float = 0.35, sections: int = 128, rings: int = 64) -> Mesh:
    """A closed torus around +Y with UVs (u around the big circle, v around the tube)."""
    faces, corner_uvs, (rows, cols) = _grid(sections, rings, True, True)
    u = np.repeat(np.arange(rows) / sections, cols) * 2 * np.pi
    v = np.tile(np.arange(cols) / rings, rows) * 2 * np.pi
    vertices = np.stack([(major + minor * np.cos(v)) * np.cos(u), minor * np.sin(v),
                         (major + minor * np.cos(v)) * np.sin(u)], 1)
    return Mesh(vertices, faces, corner_uvs, name="torus")


def plane(size: float = 2.0, divisions: int = 32) -> Mesh:
    """An open square in the XZ plane (Y up) with UVs: the ground a set dresser scatters on."""
    faces, corner_uvs, (rows, cols) = _grid(divisions, divisions, False, False)
    x = np.repeat(np.arange(rows) / divisions, cols)
    z = np.tile(np.arange(cols) / divisions, rows)
    vertices = np.stack([(x - 0.5) * size, np.zeros_like(x), (0.5 - z) * size], 1)
    return Mesh(vertices, faces, corner_uvs, name="plane")


def icosphere(subdivisions: int = 5, radius: float = 1.0) -> Mesh:
    """A closed icosphere (no UVs)."""
    import trimesh  # here, not at the top: it takes about 0.5 s to import

    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return Mesh(np.asarray(sphere.vertices, float), np.asarray(sphere.faces, np.int64), name="icosphere")
