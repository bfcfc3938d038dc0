"""Object points for grasp sampling from the selected meshes (read-only: the user's meshes are never modified).

The evaluated meshes (modifiers applied) are read in world space, triangulated (loop triangles) and
merged; NUM_POINTS points are drawn area-weighted with a seeded NumPy generator and converted to
metres. Every problem (nothing selected, no mesh, no faces, NaN, size outside 1 cm .. 1 m) is a
JHODError with a message meant for the status bar.
"""

from __future__ import annotations

import numpy as np

from .core import JHODError

NUM_POINTS = 8192  # the model encodes a 2048-point subset; refinement measures against all of them
MIN_SIZE_M = 0.01
MAX_SIZE_M = 1.0


def selected_meshes(context) -> list:
    """The selected MESH objects; JHODError when nothing or no mesh is selected."""
    selected = list(context.selected_objects)
    if not selected:
        raise JHODError("Nothing is selected: select the mesh object(s) to grasp")
    meshes = [obj for obj in selected if obj.type == "MESH"]
    if not meshes:
        kinds = ", ".join(sorted({obj.type.lower() for obj in selected}))
        raise JHODError(f"No mesh among the selected objects ({kinds}): select a mesh object to grasp")
    return meshes


def mesh_arrays(me) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3), triangles (T, 3)) of a bpy Mesh in its own coordinates."""
    me.calc_loop_triangles()
    co = np.empty(len(me.vertices) * 3, dtype=np.float64)
    me.vertices.foreach_get("co", co)
    tris = np.empty(len(me.loop_triangles) * 3, dtype=np.int64)
    me.loop_triangles.foreach_get("vertices", tris)
    return co.reshape(-1, 3), tris.reshape(-1, 3)


def mesh_triangles(me) -> np.ndarray:
    """(T, 3, 3) triangles of a bpy Mesh in its own coordinates."""
    vertices, triangles = mesh_arrays(me)
    return vertices[triangles]


def world_triangles(obj, depsgraph) -> np.ndarray:
    """(T, 3, 3) world-space triangles of the evaluated mesh of `obj` (Blender units)."""
    evaluated = obj.evaluated_get(depsgraph)
    me = evaluated.to_mesh()
    try:
        if me is None or len(me.polygons) == 0:
            raise JHODError(f"Mesh '{obj.name}' has no faces: grasps need a surface (select a mesh with faces)")
        local = mesh_triangles(me)
        world = np.array(evaluated.matrix_world, dtype=np.float64)
    finally:
        evaluated.to_mesh_clear()
    triangles = local @ world[:3, :3].T + world[:3, 3]
    if np.linalg.det(world[:3, :3]) < 0:  # a mirroring transform flips the winding: keep normals outward
        triangles = triangles[:, ::-1]
    if not np.isfinite(triangles).all() or not np.isfinite(world).all():
        raise JHODError(f"Mesh '{obj.name}' has NaN or infinite coordinates")
    return triangles


def sample_points(triangles: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 3), unit face normals (n, 3)): area-weighted uniform surface samples of (T, 3, 3)
    triangles (seeded); normals follow the triangles' winding (outward for a consistently wound mesh)."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1)
    total = float(area.sum())
    if not np.isfinite(total) or total <= 0.0:
        raise JHODError("The selected mesh has no surface area (all faces are degenerate)")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(area), size=n, p=area / total)
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    points = a[idx] + u[:, None] * (b[idx] - a[idx]) + v[:, None] * (c[idx] - a[idx])
    return points, cross[idx] / (2.0 * area[idx, None])


def selection_points(context, meters_per_unit: float, seed: int = 0, n: int = NUM_POINTS):
    """(points (n, 3) in metres, world space; their normals (n, 3); the selected mesh objects).
    Raises JHODError, changes nothing."""
    meshes = selected_meshes(context)
    depsgraph = context.evaluated_depsgraph_get()
    triangles = np.concatenate([world_triangles(obj, depsgraph) for obj in meshes]) * meters_per_unit
    corners = triangles.reshape(-1, 3)
    size = float(np.ptp(corners, axis=0).max())
    if not MIN_SIZE_M <= size <= MAX_SIZE_M:
        raise JHODError(f"The selection is {size:.4g} m across (longest bounding-box side, unit scale "
                        f"{meters_per_unit:g} m); grasps need objects of {MIN_SIZE_M * 100:g} cm .. {MAX_SIZE_M:g} m. "
                        f"Check Scene > Units > Unit Scale or the object's scale")
    points, normals = sample_points(triangles, n, seed)
    return points, normals, meshes
