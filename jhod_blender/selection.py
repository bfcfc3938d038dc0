"""The selected meshes as one triangle mesh in world space, metres (read-only: the user's meshes are never modified).

The evaluated meshes (modifiers applied) are read in world space, triangulated (loop triangles) and merged
into (vertices, faces) arrays that ``jhod_core.pipeline`` samples exactly as ``jhod sample`` samples a mesh
file. Every problem (nothing selected, no mesh, no faces, NaN, size outside 1 cm .. 1 m) is a JHODError with a
message meant for the status bar.
"""

from __future__ import annotations

import numpy as np

from .core import JHODError, MAX_OBJECT_SIZE, MIN_OBJECT_SIZE


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


def world_mesh(obj, depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3), triangles (T, 3)) of the evaluated mesh of `obj` in world space (Blender units)."""
    evaluated = obj.evaluated_get(depsgraph)
    me = evaluated.to_mesh()
    try:
        if me is None or len(me.polygons) == 0:
            raise JHODError(f"Mesh '{obj.name}' has no faces: grasps need a surface (select a mesh with faces)")
        vertices, triangles = mesh_arrays(me)
        world = np.array(evaluated.matrix_world, dtype=np.float64)
    finally:
        evaluated.to_mesh_clear()
    if not np.isfinite(vertices).all() or not np.isfinite(world).all():
        raise JHODError(f"Mesh '{obj.name}' has NaN or infinite coordinates")
    if np.linalg.det(world[:3, :3]) < 0:  # a mirroring transform flips the winding: keep normals outward
        triangles = triangles[:, ::-1]
    return vertices @ world[:3, :3].T + world[:3, 3], triangles


def selection_mesh(context, meters_per_unit: float):
    """(vertices (V, 3) in metres, world space; triangles (T, 3); the selected mesh objects).
    Raises JHODError, changes nothing."""
    meshes = selected_meshes(context)
    depsgraph = context.evaluated_depsgraph_get()
    parts = [world_mesh(obj, depsgraph) for obj in meshes]
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    vertices = np.concatenate([v for v, _ in parts]) * meters_per_unit
    triangles = np.concatenate([t + o for (_, t), o in zip(parts, offsets)])
    used = vertices[np.unique(triangles)]
    size = float(np.ptp(used, axis=0).max())
    if not MIN_OBJECT_SIZE <= size <= MAX_OBJECT_SIZE:
        raise JHODError(f"The selection is {size:.4g} m across (longest bounding-box side, unit scale "
                        f"{meters_per_unit:g} m); grasps need objects of {MIN_OBJECT_SIZE * 100:g} cm .. "
                        f"{MAX_OBJECT_SIZE:g} m. Check Scene > Units > Unit Scale or the object's scale")
    return vertices, triangles, meshes
