"""Writing triangle meshes as compact binary PLY (the corpus meshes, Blender batch's generated objects)."""

from __future__ import annotations

import numpy as np


def ply_bytes(vertices, faces, comment: str | None = None) -> bytes:
    """Binary little-endian PLY: float32 xyz and, below 65536 vertices, uint16 face indices.

    (trimesh writes int32 indices, which made the corpus meshes a third larger.)
    """
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    index = "ushort" if len(vertices) < 2**16 else "uint"
    header = (
        "ply\nformat binary_little_endian 1.0\n" + (f"comment {comment}\n" if comment else "")
        + f"element vertex {len(vertices)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\nproperty list uchar {index} vertex_indices\nend_header\n"
    )
    rows = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<u2" if index == "ushort" else "<u4", (3,))])
    rows["n"], rows["v"] = 3, faces
    return header.encode("ascii") + np.asarray(vertices, "<f4").tobytes() + rows.tobytes()
