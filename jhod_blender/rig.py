"""A MANO-format hand as a Blender armature + skinned mesh, posed through bone quaternions.

Bones carry MANO's joint names and tree; each bone runs from its joint to the next joint (or the
fingertip), so it follows the finger in the viewport. MANO's local rotations use axes parallel to
the model frame, so a bone with rest orientation R_rest gets the local rotation
R_rest^T * R_mano * R_rest; with heads at MANO's rest joints and the mesh skinned by MANO's
weights through an Armature modifier (plain linear blend skinning), the evaluated mesh equals
jhod_core's forward pass. Pose correctives (real MANO only; the open hand has none) live in a
shape key updated with the pose.

Units: the rig is built in metres; `meters_per_unit` scales it into the scene.

Render dressing (``dressed=True``, what the operators build): the flat wrist cap becomes a short rounded forearm stub
(``jhod_core.hand.dressing``; its vertices follow the hand's and ride on the wrist bone), the surface is shaded
smooth with a Subdivision modifier after the Armature (viewport 1, render 2), and the skin gets the shared "JHOD
Skin" material (Principled BSDF with subsurface). ``evaluated_vertices`` reads the model's own vertices under the
subdivision, so metrics and maps see exactly the core's hand.
"""

from __future__ import annotations

import contextlib

import bpy
import numpy as np
from mathutils import Matrix

from .core import forearm_stub, pose_correctives, rodrigues, topology

CORRECTIVE_KEY = "mano_pose_correctives"
CORE_VERTICES_KEY = "jhod_core_vertices"  # on the skin: how many leading vertices are the model's own
SUBDIVISION = "Subdivision"
SKIN_MATERIAL = "JHOD Skin"


@contextlib.contextmanager
def edit_mode(arm: bpy.types.Object):
    """Edit mode on ``arm`` (edit bones need it on the active object); Object mode and the previous active object
    again afterwards, whatever happens."""
    view_layer = bpy.context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        yield arm.data.edit_bones
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous_active


def _bone_tail(data, joints: np.ndarray, k: int) -> np.ndarray:
    children = [c for c, p in enumerate(data.parents) if p == k]
    if k == 0:
        return joints[4]  # wrist bone points at the middle knuckle
    if children:
        return joints[children[0]]
    finger = next(f for f, chain in topology.FINGER_JOINTS.items() if k in chain)
    return data.v_template[data.tip_vertex_ids[topology.TIP_NAMES.index(finger)]]


def build_hand(data, name: str, collection: bpy.types.Collection, meters_per_unit: float = 1.0, dressed: bool = False):
    """Create (armature object, mesh object) for `data` (a jhod_core HandData) at rest, mean shape; ``dressed``:
    ready to render (forearm stub, smooth, subdivided, skin material)."""
    joints = data.rest_joints
    arm_data = bpy.data.armatures.new(f"{name}_armature")
    arm = bpy.data.objects.new(f"{name}_rig", arm_data)
    collection.objects.link(arm)
    arm.scale = (1.0 / meters_per_unit,) * 3
    arm["jhod_side"] = data.side
    arm["jhod_hand_source"] = data.source

    with edit_mode(arm):
        bones = []
        for k, joint_name in enumerate(topology.JOINT_NAMES):
            bone = arm_data.edit_bones.new(joint_name)
            bone.head = joints[k].tolist()
            bone.tail = _bone_tail(data, joints, k).tolist()
            bone.roll = 0.0
            bones.append(bone)
        for k, parent in enumerate(data.parents):
            if parent >= 0:
                bones[k].parent = bones[parent]
                bones[k].use_connect = False

    vertices, faces = data.v_template, data.closed_faces
    if dressed:
        try:
            vertices, faces = forearm_stub(vertices, faces, joints)
        except ValueError:  # a hand whose wrist is not one flat cap: keep its own wrist end
            pass
    weights = np.zeros((len(vertices), data.weights.shape[1]))
    weights[:data.num_vertices] = data.weights
    weights[data.num_vertices:, 0] = 1.0  # the stub rides on the wrist
    mesh_data = bpy.data.meshes.new(f"{name}_mesh")
    mesh_data.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh_data.update()
    mesh = bpy.data.objects.new(f"{name}_skin", mesh_data)
    mesh[CORE_VERTICES_KEY] = data.num_vertices
    collection.objects.link(mesh)
    mesh.parent = arm
    for k, joint_name in enumerate(topology.JOINT_NAMES):
        group = mesh.vertex_groups.new(name=joint_name)
        ids = np.nonzero(weights[:, k] > 0)[0]
        for i, w in zip(ids.tolist(), weights[ids, k].tolist()):
            group.add([i], w, "REPLACE")
    mod = mesh.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    mod.use_vertex_groups = True
    mod.use_deform_preserve_volume = False  # MANO is plain linear blend skinning
    if dressed:
        mesh_data.shade_smooth()
        subdivision = mesh.modifiers.new(SUBDIVISION, "SUBSURF")  # after the Armature: smooths the posed hand
        subdivision.levels, subdivision.render_levels = 1, 2
        mesh_data.materials.append(skin_material(meters_per_unit))
    if np.any(data.posedirs):
        mesh.shape_key_add(name="Basis", from_mix=False)
        mesh.shape_key_add(name=CORRECTIVE_KEY, from_mix=False).value = 1.0
    for bone in arm.pose.bones:
        bone.rotation_mode = "QUATERNION"
    return arm, mesh


def apply_pose(arm: bpy.types.Object, mesh: bpy.types.Object | None, data, global_orient, hand_pose, transl,
               flat_hand_mean: bool = True, meters_per_unit: float = 1.0) -> None:
    """Pose the rig with MANO parameters (axis-angle, metres) in the armature's parent frame."""
    hand_pose = np.asarray(hand_pose, dtype=np.float64).reshape(45)
    if not flat_hand_mean:
        hand_pose = hand_pose + data.hands_mean
    full = np.concatenate([np.asarray(global_orient, dtype=np.float64).reshape(3), hand_pose]).reshape(16, 3)
    rotations = rodrigues(full)
    for k, joint_name in enumerate(topology.JOINT_NAMES):
        rest = np.array(arm.data.bones[joint_name].matrix_local.to_3x3())
        local = rest.T @ rotations[k] @ rest
        arm.pose.bones[joint_name].rotation_quaternion = Matrix(local.tolist()).to_quaternion()
    arm.location = (np.asarray(transl, dtype=np.float64).reshape(3) / meters_per_unit).tolist()
    if mesh is not None and mesh.data.shape_keys is not None:
        offsets = pose_correctives(data.posedirs, rotations[None])[0]
        blocks = mesh.data.shape_keys.key_blocks
        co = np.empty(len(mesh.data.vertices) * 3)
        blocks["Basis"].data.foreach_get("co", co)  # the dressing's extra vertices have no correctives
        co = co.reshape(-1, 3)
        co[:data.num_vertices] = data.v_template + offsets
        blocks[CORRECTIVE_KEY].data.foreach_set("co", co.ravel())


def read_pose(arm: bpy.types.Object, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MANO parameters a posed rig shows (inverse of apply_pose, flat-hand convention)."""
    out = np.zeros((16, 3))
    for k, joint_name in enumerate(topology.JOINT_NAMES):
        rest = np.array(arm.data.bones[joint_name].matrix_local.to_3x3())
        local = np.array(arm.pose.bones[joint_name].rotation_quaternion.to_matrix())
        world = Matrix((rest @ local @ rest.T).tolist()).to_quaternion()
        axis, angle = world.to_axis_angle()
        out[k] = np.array(axis) * angle
    return out[0], out[1:].ravel(), np.array(arm.location)


def evaluated_vertices(mesh: bpy.types.Object) -> np.ndarray:
    """World-space vertices of the model's own hand after skinning (what jhod_core computes): the viewport's mesh
    without the render dressing (its Subdivision is skipped for the read, the forearm stub's vertices dropped)."""
    subdivision = mesh.modifiers.get(SUBDIVISION)
    shown = subdivision is not None and subdivision.show_viewport
    if shown:
        subdivision.show_viewport = False
    try:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        evaluated = mesh.evaluated_get(depsgraph)
        me = evaluated.to_mesh()
        try:
            co = np.empty(len(me.vertices) * 3)
            me.vertices.foreach_get("co", co)
            co = co.reshape(-1, 3)[:mesh.get(CORE_VERTICES_KEY, len(me.vertices))]
            world = np.array(evaluated.matrix_world)
            return co @ world[:3, :3].T + world[:3, 3]
        finally:
            evaluated.to_mesh_clear()
    finally:
        if shown:
            subdivision.show_viewport = True


def skin_material(meters_per_unit: float = 1.0) -> bpy.types.Material:
    """The shared skin material (made once per file, so an artist's changes apply to every hand): a Principled
    BSDF with a warm base, subsurface scattering at the scale of skin (a few mm) and a soft sheen."""
    material = bpy.data.materials.get(SKIN_MATERIAL)
    if material is not None:
        return material
    material = bpy.data.materials.new(SKIN_MATERIAL)
    if not material.node_tree:  # Blender < 5 makes node-less materials; 5.x always has nodes
        material.use_nodes = True
    material.diffuse_color = (0.72, 0.47, 0.36, 1.0)  # solid-mode viewport colour
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    inputs = bsdf.inputs
    inputs["Base Color"].default_value = (0.72, 0.47, 0.36, 1.0)  # linear: a light warm skin tone
    inputs["Roughness"].default_value = 0.45
    inputs["Subsurface Weight"].default_value = 0.25
    inputs["Subsurface Radius"].default_value = (1.0, 0.35, 0.2)
    inputs["Subsurface Scale"].default_value = 0.004 / meters_per_unit  # light travels a few mm under skin
    inputs["Coat Weight"].default_value = 0.05
    return material
