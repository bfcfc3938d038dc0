"""Generated object points -> a closed, smooth Blender mesh: jhod_core's ``points_to_mesh`` (NumPy only), the same
method ``jhod sample-joint`` uses, so both give the same object for the same points."""

from __future__ import annotations

import bpy
import numpy as np

from .core import points_to_mesh


def mesh_from_arrays(vertices: np.ndarray, faces: np.ndarray, name: str):
    """A new ``bpy.types.Mesh`` from (V, 3) vertices (scene units) and (F, 3) triangles."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(vertices, dtype=np.float64).tolist(), [], np.asarray(faces).tolist())
    mesh.update()
    return mesh


def surface_mesh(points_units: np.ndarray, name: str):
    """A new closed ``bpy.types.Mesh`` around (N, 3) points given in scene units."""
    return mesh_from_arrays(*points_to_mesh(np.asarray(points_units, dtype=np.float64)), name)
