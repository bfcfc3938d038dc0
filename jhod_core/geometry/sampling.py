"""Deterministic point sampling on meshes and point sets.

Every function takes an explicit ``seed`` and draws from its own ``np.random.default_rng(seed)``,
so results do not depend on global random state (trimesh's ``sample_surface`` uses a global RNG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import MeshError

if TYPE_CHECKING:  # trimesh is not importable inside Blender, where farthest_point_sampling is used
    import trimesh


def sample_surface(
    mesh: trimesh.Trimesh, n: int = 2048, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sample_triangles`` on a trimesh: ``(points, normals, face_idx)``."""
    return sample_triangles(mesh.vertices, mesh.faces, n, seed)


def sample_triangles(vertices, faces, n: int = 2048, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``n`` points uniformly by area on a triangle mesh given as arrays (V, 3), (F, 3);
    return ``(points, normals, face_idx)``. The one surface sampler of every path (CLI, Blender, training).

    Faces are drawn with probability proportional to their area, then a point is drawn uniformly
    inside the triangle (``sqrt`` barycentric trick). ``normals`` are the unit face normals of the
    sampled faces (n, 3), following the winding. Same mesh + seed -> same samples.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    tri_all = vertices[faces]
    cross = np.cross(tri_all[:, 1] - tri_all[:, 0], tri_all[:, 2] - tri_all[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    areas = double_area / 2.0
    total = areas.sum()
    if not np.isfinite(total) or total <= 0:
        raise MeshError("cannot sample the surface of a mesh with zero total area")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(areas) / total
    face_idx = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(areas) - 1)

    r1, r2 = rng.random((2, n))
    s = np.sqrt(r1)
    bary = np.stack([1.0 - s, s * (1.0 - r2), s * r2], axis=1)  # uniform in the triangle
    tri = tri_all[face_idx]
    points = np.einsum("nk,nkd->nd", bary, tri)
    normals = cross[face_idx] / np.maximum(double_area[face_idx], 1e-300)[:, None]
    return points, normals, face_idx


def farthest_point_sampling(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of ``k`` points chosen greedily to be far apart (O(n k) time, O(n) memory).

    The first index is drawn from ``default_rng(seed)``; each next one is the point farthest from
    all chosen so far (ties -> lowest index), so the result is deterministic per seed.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if not 0 < k <= n:
        raise ValueError(f"farthest_point_sampling: k must be in 1..{n}, got {k}")
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = np.random.default_rng(seed).integers(n)
    nearest_sq = np.sum((points - points[chosen[0]]) ** 2, axis=1)
    for i in range(1, k):
        chosen[i] = int(np.argmax(nearest_sq))
        np.minimum(nearest_sq, np.sum((points - points[chosen[i]]) ** 2, axis=1), out=nearest_sq)
    return chosen
