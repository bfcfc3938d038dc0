"""Nearest-neighbour queries and the JHOD joint-to-object distance field (NumPy/SciPy).

The torch twin of ``joint_distance_field`` (differentiable, for training losses) lives in
``jhod_core/torch/spatial.py`` so that this module stays torch-free.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

DISTANCE_FIELD_K = 10  # JHOD paper: "the 10 closest points in the object points" -> y_f in R^{16x30}


def knn(query: np.ndarray, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` nearest ``points`` of each query point: ``(dist (m, k), idx (m, k))``, nearest first."""
    points = np.asarray(points, dtype=np.float64)
    if not 0 < k <= len(points):
        raise ValueError(f"knn: k must be in 1..{len(points)}, got {k}")
    dist, idx = cKDTree(points).query(np.asarray(query, dtype=np.float64), k=k)
    return dist.reshape(-1, k), idx.reshape(-1, k)


def joint_distance_field(
    joints: np.ndarray, object_points: np.ndarray, k: int = DISTANCE_FIELD_K
) -> np.ndarray:
    """JHOD distance field y_f: for each joint, the vectors ``point - joint`` to its ``k`` nearest
    object points, nearest first, flattened to ``3k`` values ``[dx1, dy1, dz1, dx2, ...]``.

    ``joints`` (..., J, 3) (J = 16 MANO joints in the paper) and ``object_points`` (..., N, 3)
    with broadcastable leading dimensions (e.g. one point cloud shared by a batch of hands).
    Returns (..., J, 3k); metres in, metres out.
    """
    joints = np.asarray(joints, dtype=np.float64)
    object_points = np.asarray(object_points, dtype=np.float64)
    lead = np.broadcast_shapes(joints.shape[:-2], object_points.shape[:-2])
    j = np.broadcast_to(joints, lead + joints.shape[-2:]).reshape(-1, *joints.shape[-2:])
    p = np.broadcast_to(object_points, lead + object_points.shape[-2:]).reshape(-1, *object_points.shape[-2:])
    out = np.empty((len(j), j.shape[1], k, 3))
    for b in range(len(j)):
        _, idx = knn(j[b], p[b], k)
        out[b] = p[b][idx] - j[b][:, None, :]
    return out.reshape(*lead, joints.shape[-2], 3 * k)
