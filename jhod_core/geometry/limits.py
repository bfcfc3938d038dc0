"""What an object must be to be grasped: size in metres and some thickness. One place for every path.

Torch-, trimesh- and SciPy-free (Blender imports it).
"""

from __future__ import annotations

import numpy as np

from ..errors import MeshError

# Largest bounding-box side, metres: 1 cm .. 1 m spans graspable objects; outside usually means a wrong unit.
MIN_OBJECT_SIZE = 0.01
MAX_OBJECT_SIZE = 1.0
# Thinnest extent (along the surface's least principal axis): below this the object is a single sheet (an open
# plane, a decal) with no volume to hold; the hands would hover over it.
MIN_THICKNESS = 0.001


def check_object_size(size: float, unit_hint: str = "") -> None:
    """``MeshError`` unless ``MIN_OBJECT_SIZE <= size <= MAX_OBJECT_SIZE`` (largest side, metres)."""
    if not MIN_OBJECT_SIZE <= size <= MAX_OBJECT_SIZE:
        hint = unit_hint or ("is the file in millimetres or centimetres? Meshes must be in metres" if size > 1
                             else "is it scaled down, or in another unit? Meshes must be in metres")
        raise MeshError(f"object is {size:.4g} m across (largest bounding-box side); expected "
                        f"{MIN_OBJECT_SIZE:g}..{MAX_OBJECT_SIZE:g} m: {hint}")


def check_thickness(points: np.ndarray) -> None:
    """``MeshError`` when surface samples or vertices (N, 3) lie in one plane (an open sheet with no volume)."""
    points = np.asarray(points, dtype=np.float64)
    centred = points - points.mean(axis=0)
    axes = np.linalg.eigh(centred.T @ centred)[1]
    thickness = float(np.ptp(centred @ axes[:, 0]))
    if thickness < MIN_THICKNESS:
        raise MeshError(f"object is only {thickness * 1000:.1f} mm thick (a single sheet such as an open plane has "
                        f"no volume to hold): give it thickness (e.g. a Solidify modifier) or use a closed mesh")
