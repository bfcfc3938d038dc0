"""Vertex normals of triangle meshes, one mesh or a batch sharing its faces (NumPy only)."""

from __future__ import annotations

import numpy as np


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals (..., V, 3) of meshes ``vertices`` (..., V, 3) sharing ``faces`` (F, 3): the sum of the
    area-weighted normals of the faces around each vertex. Summed corner after corner, face after face (as
    ``np.add.at`` would), so that a batch gives each mesh's normals bit for bit."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    fn = np.cross(v[..., f[:, 1], :] - v[..., f[:, 0], :], v[..., f[:, 2], :] - v[..., f[:, 0], :])
    n, batch = v.shape[-2], fn.reshape(-1, len(f), 3)
    index = (np.arange(len(batch))[:, None, None] * n + f.T[None]).ravel()    # (meshes, corner, face)
    weights = np.broadcast_to(batch[:, None], (len(batch), 3, len(f), 3)).reshape(-1, 3)
    vn = np.stack([np.bincount(index, weights[:, c], minlength=len(batch) * n) for c in range(3)], axis=-1)
    vn = vn.reshape(v.shape)
    return vn / np.maximum(np.linalg.norm(vn, axis=-1, keepdims=True), 1e-15)
