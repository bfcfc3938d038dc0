"""Inside/outside tests and signed distances that also work for meshes with holes.

* Watertight meshes: ray parity, cast with trimesh's ray intersector (embree via ``embreex`` when
  installed, ``trimesh.ray.has_embree``). Each point casts rays in three fixed directions and the
  majority parity wins. trimesh's own ``contains`` retries ambiguous rays in an unseeded random
  direction; the fixed vote keeps results reproducible and robust to a ray grazing an edge.
* Other meshes: generalized winding number (Jacobson et al. 2013): the solid angles subtended by
  all triangles, summed and divided by 4 pi, is 1 inside a closed outward-oriented surface, 0
  outside, and degrades gracefully near holes. A point is inside when ``|w| >= 0.5`` (the absolute
  value also accepts meshes whose faces all point inwards). Exact but O(points x faces); it is
  vectorised and chunked to bound memory.
* Points outside the mesh's bounding box are reported outside without any test (exact for closed
  surfaces; for open ones a convention that also skips the expensive test for most points).

All coordinates in metres; distances negative inside.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

# Three fixed, non-axis-aligned, non-coplanar directions for the parity vote.
_RAY_DIRECTIONS = np.array([[0.44, 0.62, 0.65], [-0.71, 0.24, 0.66], [0.13, -0.92, 0.36]])
_RAY_DIRECTIONS /= np.linalg.norm(_RAY_DIRECTIONS, axis=1, keepdims=True)
_RAY_CHUNK = 200_000  # points per ray-cast call
_DISTANCE_CHUNK = 256  # points per exact-distance batch (bounds the candidate pairs in memory)
_WINDING_PAIRS = 250_000  # point-triangle pairs per chunk (~100 bytes each): ~25 MB, cache friendly


def contains(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Boolean (n,) mask of points inside ``mesh``; ray parity if watertight, else winding numbers."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    lo, hi = np.asarray(mesh.bounds)
    result = np.zeros(len(points), dtype=bool)
    candidates = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
    if len(candidates) == 0:
        return result
    if mesh.is_watertight:
        result[candidates] = _ray_parity_vote(mesh, points[candidates])
    else:
        result[candidates] = np.abs(winding_number(mesh, points[candidates])) >= 0.5
    return result


def winding_number(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Generalized winding number (n,) of ``points`` w.r.t. the triangles of ``mesh``.

    Solid angle of each triangle by Van Oosterom & Strackee (1983):
    ``tan(omega / 2) = a.(b x c) / (|a||b||c| + (a.b)|c| + (b.c)|a| + (c.a)|b|)`` with a, b, c
    the triangle corners relative to the point. Coordinates are centred on the mesh in float64 and
    the kernel runs in float32 (4x faster; the error, ~1e-6 in w, only matters within ~1e-7 m of
    the surface). Cost ~25-50 ns per point-triangle pair on one core.
    """
    centre = np.asarray(mesh.bounds, dtype=np.float64).mean(axis=0)
    points = (np.asarray(points, dtype=np.float64).reshape(-1, 3) - centre).astype(np.float32)
    tri = (np.asarray(mesh.vertices, dtype=np.float64)[np.asarray(mesh.faces)] - centre).astype(np.float32)
    corners = [tri[:, i, j] for i in range(3) for j in range(3)]  # corner i, coordinate j: (F,)
    out = np.empty(len(points))
    step = max(1, _WINDING_PAIRS // max(1, len(tri)))
    for start in range(0, len(points), step):
        px, py, pz = (points[start:start + step, j, None] for j in range(3))
        ax, ay, az = corners[0] - px, corners[1] - py, corners[2] - pz
        bx, by, bz = corners[3] - px, corners[4] - py, corners[5] - pz
        cx, cy, cz = corners[6] - px, corners[7] - py, corners[8] - pz
        la = np.sqrt(ax * ax + ay * ay + az * az)
        lb = np.sqrt(bx * bx + by * by + bz * bz)
        lc = np.sqrt(cx * cx + cy * cy + cz * cz)
        det = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
        denom = (la * lb * lc + (ax * bx + ay * by + az * bz) * lc
                 + (bx * cx + by * cy + bz * cz) * la + (cx * ax + cy * ay + cz * az) * lb)
        out[start:start + step] = np.arctan2(det, denom).sum(axis=1, dtype=np.float64) / (2.0 * np.pi)
    return out


def unsigned_distance(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Exact point-to-surface distance (n,) in metres.

    Pruned brute force: u = distance to the nearest vertex bounds the answer from above, and a
    triangle whose centroid is farther than ``u + r_max`` (r_max = largest centroid-to-corner
    distance) cannot beat it, so only triangles in that ball (cKDTree over centroids) are measured
    exactly (``trimesh.triangles.closest_point``). Matches a brute-force search over all triangles.
    ``trimesh.proximity.closest_point`` was not used: it missed the nearest triangle for a few % of
    near-surface points in our checks (errors up to 1e-5 m) and is 10-40x slower for points a few
    centimetres off the mesh, whose axis-aligned candidate box holds most of the mesh.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        return np.zeros(0)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = vertices[np.asarray(mesh.faces)]
    centroids = triangles.mean(axis=1)
    radii = np.linalg.norm(triangles - centroids[:, None], axis=-1).max(axis=1)
    upper, _ = cKDTree(vertices).query(points)
    centroid_tree = cKDTree(centroids)
    out = np.empty(len(points))
    for start in range(0, len(points), _DISTANCE_CHUNK):
        stop = min(start + _DISTANCE_CHUNK, len(points))
        balls = centroid_tree.query_ball_point(points[start:stop], upper[start:stop] + radii.max())
        point_idx = np.repeat(np.arange(start, stop), [len(b) for b in balls])
        tri_idx = np.concatenate([np.asarray(b, dtype=np.int64) for b in balls])
        # per-triangle bound: |p - c_t| - r_t <= dist(p, t) must not exceed the upper bound
        keep = np.linalg.norm(points[point_idx] - centroids[tri_idx], axis=1) - radii[tri_idx] <= upper[point_idx]
        point_idx, tri_idx = point_idx[keep], tri_idx[keep]
        closest = trimesh.triangles.closest_point(triangles[tri_idx], points[point_idx])
        dist = np.linalg.norm(closest - points[point_idx], axis=1)
        # pairs are grouped by point; every point keeps the triangles at its nearest vertex
        first = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        out[start:stop] = np.minimum.reduceat(dist, first)
    return out


def signed_distance(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Exact distance to the surface (n,), metres, negative inside (sign from ``contains``).

    Note: ``trimesh.proximity.signed_distance`` uses the opposite sign (positive inside).
    """
    distance = unsigned_distance(mesh, points)
    return np.where(contains(mesh, points), -distance, distance)


def _ray_parity_vote(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    votes = np.zeros(len(points), dtype=np.int64)
    for direction in _RAY_DIRECTIONS:
        for start in range(0, len(points), _RAY_CHUNK):
            origins = points[start:start + _RAY_CHUNK]
            _, ray_idx = mesh.ray.intersects_id(
                origins, np.broadcast_to(direction, origins.shape), multiple_hits=True
            )
            hits = np.bincount(ray_idx, minlength=len(origins))
            votes[start:start + _RAY_CHUNK] += hits % 2
    return votes >= 2
