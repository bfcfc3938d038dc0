"""Generated object points -> a closed mesh, with Blender's own OpenVDB (no SciPy inside Blender).

Geometry nodes Points to Volume (a ball of radius ``RADIUS_FACTOR`` x the median point spacing
around each point) then Volume to Mesh: a closed, manifold surface that keeps concavities such as a
mug's handle, unlike a convex hull. The modifier is evaluated once into a new mesh and the helper
object and node group are removed again.
"""

from __future__ import annotations

import bpy
import numpy as np

RADIUS_FACTOR = 1.6
VOXELS_PER_RADIUS = 3.0


def median_spacing(points: np.ndarray, sample: int = 512) -> float:
    """Median nearest-neighbour distance of (a seeded subset of) the points."""
    idx = np.random.default_rng(0).permutation(len(points))[:sample]
    d2 = ((points[idx, None] - points[None]) ** 2).sum(-1)
    d2[np.arange(len(idx)), idx] = np.inf
    return float(np.sqrt(np.median(d2.min(1))))


def _set_input(node, name, value):
    for socket in node.inputs:
        if socket.name == name:
            socket.default_value = value
            return


def _node_group(radius: float, voxel: float):
    ng = bpy.data.node_groups.new("JHOD surfacing", "GeometryNodeTree")
    ng.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    ng.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    n_in, n_out = ng.nodes.new("NodeGroupInput"), ng.nodes.new("NodeGroupOutput")
    to_points = ng.nodes.new("GeometryNodeMeshToPoints")
    to_volume = ng.nodes.new("GeometryNodePointsToVolume")
    to_mesh = ng.nodes.new("GeometryNodeVolumeToMesh")
    for node in (to_volume, to_mesh):
        if hasattr(node, "resolution_mode"):  # Blender 4.x: a node property; 5.0: a menu input socket
            node.resolution_mode = "VOXEL_SIZE"
        else:
            _set_input(node, "Resolution Mode", "Size")
        _set_input(node, "Voxel Size", voxel)
    _set_input(to_volume, "Radius", radius)
    ng.links.new(n_in.outputs[0], to_points.inputs["Mesh"])
    ng.links.new(to_points.outputs[0], to_volume.inputs["Points"])
    ng.links.new(to_volume.outputs[0], to_mesh.inputs["Volume"])
    ng.links.new(to_mesh.outputs[0], n_out.inputs[0])
    return ng


def surface_mesh(points_units: np.ndarray, name: str):
    """A new closed ``bpy.types.Mesh`` around (N, 3) points given in scene units."""
    points_units = np.asarray(points_units, dtype=np.float64)
    spacing = max(median_spacing(points_units), 1e-6)
    radius = RADIUS_FACTOR * spacing
    cloud = bpy.data.meshes.new(name + " points")
    cloud.from_pydata(points_units.tolist(), [], [])
    helper = bpy.data.objects.new(name + " points", cloud)
    bpy.context.scene.collection.objects.link(helper)
    ng = _node_group(radius, radius / VOXELS_PER_RADIUS)
    try:
        modifier = helper.modifiers.new("surfacing", "NODES")
        modifier.node_group = ng
        evaluated = helper.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mesh = bpy.data.meshes.new_from_object(evaluated)
        mesh.name = name
    finally:
        bpy.data.objects.remove(helper, do_unlink=True)
        bpy.data.meshes.remove(cloud)
        bpy.data.node_groups.remove(ng)
    return mesh
