"""Regular grids of points filling a solid (volume estimates by counting grid points).

Grid centres lie on one global lattice, ``(i + 0.5) * pitch`` on each axis, so grids built over
different boxes line up and a grid point never sits exactly on an axis-aligned face placed at a
multiple of the pitch. Each centre stands for a cube of volume ``pitch**3``.
"""

from __future__ import annotations

import numpy as np
import trimesh

from jhod_core.errors import JHODError
from jhod_core.geometry.inside import contains

MAX_GRID_POINTS = 20_000_000  # ~480 MB of float64 coordinates


def grid_points(bounds: np.ndarray, pitch: float) -> np.ndarray:
    """Lattice centres inside the box ``bounds`` = [[xmin, ymin, zmin], [xmax, ymax, zmax]], (m, 3)."""
    if not pitch > 0:
        raise ValueError(f"pitch must be positive, got {pitch}")
    lo, hi = np.asarray(bounds, dtype=np.float64)
    first = np.ceil(lo / pitch - 0.5).astype(np.int64)
    last = np.floor(hi / pitch - 0.5).astype(np.int64)
    counts = np.maximum(last - first + 1, 0)
    if counts.prod() > MAX_GRID_POINTS:  # a user-facing limit (e.g. jhod eval-grasp --pitch)
        raise JHODError(
            f"a grid of pitch {pitch:g} m over a {np.round(hi - lo, 4).tolist()} m box has "
            f"{int(counts.prod()):,} points (limit {MAX_GRID_POINTS:,}); use a larger pitch"
        )
    axes = [(np.arange(f, l + 1) + 0.5) * pitch for f, l in zip(first, last)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def solid_voxel_points(
    mesh: trimesh.Trimesh, pitch: float, bounds: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Interior-filled grid: ``(centres (m, 3) inside the mesh, pitch)``; volume ~ ``m * pitch**3``.

    ``bounds`` optionally restricts the grid to a box (clipped to the mesh's bounding box).
    Inside test: ``jhod_core.geometry.inside.contains`` (works for non-watertight meshes too).
    """
    box = np.asarray(mesh.bounds, dtype=np.float64)
    if bounds is not None:
        bounds = np.asarray(bounds, dtype=np.float64)
        box = np.stack([np.maximum(box[0], bounds[0]), np.minimum(box[1], bounds[1])])
    points = grid_points(box, pitch)
    return points[contains(mesh, points)], pitch
