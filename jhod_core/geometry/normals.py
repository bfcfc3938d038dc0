"""Vertex normals of triangle meshes, one mesh or a batch sharing its faces (NumPy only)."""

from __future__ import annotations

import numpy as np


def incident_faces(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(V, D) the faces around each vertex, ordered corner after corner and face after face (the order in which
    ``vertex_normals`` sums them), padded with -1."""
    f = np.asarray(faces, dtype=np.int64)
    vertex = f.T.ravel()                                   # (corner, face) order
    face = np.tile(np.arange(len(f)), 3)
    order = np.argsort(vertex, kind="stable")
    vertex, face = vertex[order], face[order]
    counts = np.bincount(vertex, minlength=num_vertices)
    slot = np.arange(len(vertex)) - np.repeat(np.cumsum(counts) - counts, counts)
    table = np.full((num_vertices, max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    table[vertex, slot] = face
    return table


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, ids: np.ndarray | None = None,
                   incident: np.ndarray | None = None) -> np.ndarray:
    """Unit vertex normals (..., V, 3) of meshes ``vertices`` (..., V, 3) sharing ``faces`` (F, 3): the sum of the
    area-weighted normals of the faces around each vertex, summed corner after corner and face after face, so that
    a batch gives each mesh's normals bit for bit. ``ids``: the normals of those vertices only (..., len(ids), 3),
    the same numbers from the faces around them alone (a hand's depth test needs a few dozen of its vertices);
    ``incident``: ``incident_faces(faces, V)`` where the caller keeps it."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if incident is None:
        incident = incident_faces(f, v.shape[-2])
    around = incident if ids is None else incident[np.asarray(ids)]            # (n, D) face ids, -1: none
    needed = np.arange(len(f)) if ids is None else np.unique(around[around >= 0])
    where = np.searchsorted(needed, around)                                     # into the faces measured
    corners = f[needed]
    p0, p1, p2 = (v[..., corners[:, c], :] for c in range(3))
    a, b = p1 - p0, p2 - p0
    fn = np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],             # as np.cross, term for term
                   a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                   a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)    # (..., faces, 3)
    vn = np.zeros(v.shape[:-2] + (len(around), 3))
    filled = around >= 0
    for slot, count in enumerate(filled.sum(axis=0)):                           # in order: a running sum
        if count == len(around):
            vn += fn[..., where[:, slot], :]
        elif count:
            rows = np.flatnonzero(filled[:, slot])
            vn[..., rows, :] += fn[..., where[rows, slot], :]
    return vn / np.maximum(np.linalg.norm(vn, axis=-1, keepdims=True), 1e-15)
