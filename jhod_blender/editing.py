"""Editing a hand after generation: Fit Fingers, Adjust Fingers (curl / spread / open-close), Mirror Hand, and
the Add Approach animation. Each operator validates first, changes the scene only on success, one undo step.

A hand is edited through its MANO parameters in world metres (``world_params``), so the artist may move, rotate or
pose the rig freely before; the rig is written back with the same parameters (``set_world_params``): the armature
object's own rotation is folded into the wrist. The maths lives in jhod_core (refinement, ``hand.adjust``,
``mirror_grasp``, ``steering.palm_directions``).
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from . import backend, rig, selection
from .core import JHODError, MIRROR, adjust_pose, forward, mirror_grasp, palm_directions, rodrigues, topology
from .operators import load_hand, scene_meters_per_unit
from .preferences import addon_preferences

SIDE_KEY = "jhod_side"


def hand_rig(obj):
    """(armature, skin) of a JHOD hand given its rig or its skin; None otherwise."""
    if obj is None:
        return None
    arm = obj if obj.type == "ARMATURE" else obj.parent if obj.parent is not None and obj.type == "MESH" else None
    if arm is None or arm.type != "ARMATURE" or SIDE_KEY not in arm:
        return None
    skin = next((c for c in arm.children if c.type == "MESH"), None)
    return arm, skin


def selected_hands(context) -> list:
    """The JHOD hands among the selected objects (and the active one), each once; JHODError when none."""
    hands, seen = [], set()
    for obj in [context.active_object, *context.selected_objects]:
        found = hand_rig(obj)
        if found is not None and found[0].name not in seen:
            seen.add(found[0].name)
            hands.append(found)
    if not hands:
        raise JHODError("Select a JHOD hand (its rig or its skin) first")
    return hands


def world_params(arm, data, unit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(global_orient, hand_pose, transl) of the posed rig in world metres, its object transform included."""
    global_orient, hand_pose, _ = rig.read_pose(arm, data)
    world = np.array(arm.matrix_world, dtype=np.float64)
    scale = np.linalg.norm(world[:3, :3], axis=0)
    rotation = world[:3, :3] / scale
    if not np.allclose(scale * unit, 1.0, rtol=1e-4):
        raise JHODError(f"The hand rig '{arm.name}' is scaled; apply or clear its scale to edit it")
    joint = data.rest_joints[0]
    go = _rotvec(rotation @ rodrigues(np.asarray(global_orient)[None])[0])
    # v_world = unit * (L + R_obj (R (v - J0) + J0) / unit) = R_obj R (v - J0) + J0 + (unit L + R_obj J0 - J0)
    transl = world[:3, 3] * unit + rotation @ joint - joint
    return go, np.asarray(hand_pose, dtype=np.float64), transl


def _rotvec(rotation: np.ndarray) -> np.ndarray:
    axis, angle = Matrix(np.asarray(rotation).tolist()).to_quaternion().to_axis_angle()
    return np.array(axis) * angle


def set_world_params(arm, skin, data, params, unit: float) -> None:
    """Pose the rig with world-metre parameters; the armature object keeps no rotation of its own (nor parent)."""
    arm.parent = None
    arm.rotation_mode = "QUATERNION"
    arm.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
    arm.scale = (1.0 / unit,) * 3
    rig.apply_pose(arm, skin, data, *params, meters_per_unit=unit)


def grasped_object(context, arm):
    """The mesh the hand holds: a selected mesh that is not a hand, else the one recorded when it was generated."""
    for obj in context.selected_objects:
        if obj.type == "MESH" and hand_rig(obj) is None:
            return obj
    obj = bpy.data.objects.get(arm.get("jhod_object", ""))
    if obj is None or obj.type != "MESH":
        raise JHODError(f"No object for '{arm.name}': select the mesh it should hold together with the hand")
    return obj


def fit_fingers(context, arm, skin, obj, unit: float, prefs) -> None:
    """The refiner on the rig's current pose: fingers re-close onto ``obj``'s surface, the hand leaves it."""
    side = arm[SIDE_KEY]
    data = load_hand(context, side)
    go, hp, tr = world_params(arm, data, unit)
    vertices, triangles = selection.world_mesh(obj, context.evaluated_depsgraph_get())
    vertices = vertices * unit
    if side == "left":  # the refiner works on right hands: mirror the hand and the object, refine, mirror back
        go, hp, tr = mirror_grasp(go, hp, tr)
        vertices, triangles = vertices * MIRROR, triangles[:, ::-1]
    result = {"global_orient": go[None], "hand_pose": hp[None], "transl": tr[None],
              "keypoints": np.zeros((1, 21, 3))}
    refined = backend.refine(result, (vertices, triangles), int(context.scene.jhod.seed), side)
    set_world_params(arm, skin, data, (refined["global_orient"][0], refined["hand_pose"][0],
                                       refined["transl"][0]), unit)


class _HandOperator:
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            if context.mode != "OBJECT":
                raise JHODError(f"Switch to Object Mode to use {self.bl_label}")
            message = self.edit(context, selected_hands(context), scene_meters_per_unit(context.scene))
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


class JHOD_OT_fit_fingers(_HandOperator, bpy.types.Operator):
    """Re-close the fingers of the selected hand(s) onto the object from where they are now (after moving,
    rotating or bending them)"""

    bl_idname = "jhod.fit_fingers"
    bl_label = "Fit Fingers"

    def edit(self, context, hands, unit):
        prefs = addon_preferences(context)
        plan = [(arm, skin, grasped_object(context, arm)) for arm, skin in hands]  # check all before changing
        for arm, skin, obj in plan:
            fit_fingers(context, arm, skin, obj, unit, prefs)
        return f"Fitted {len(plan)} hand(s) to {', '.join(sorted({obj.name for _, _, obj in plan}))}"


class JHOD_OT_adjust_fingers(_HandOperator, bpy.types.Operator):
    """Open or close the hand, curl single fingers, fan the fingers, inside the joint limits"""

    bl_idname = "jhod.adjust_fingers"
    bl_label = "Adjust Fingers"

    close: bpy.props.FloatProperty(name="Open / Close", default=0.0, min=-1.0, max=1.0,
                                   description="-1 opens every finger, +1 closes the hand to a fist")
    spread: bpy.props.FloatProperty(name="Spread", default=0.0, min=-1.0, max=1.0,
                                    description="+1 fans the fingers apart, -1 brings them together")
    curl_thumb: bpy.props.FloatProperty(name="Thumb", default=0.0, min=-1.0, max=1.0)
    curl_index: bpy.props.FloatProperty(name="Index", default=0.0, min=-1.0, max=1.0)
    curl_middle: bpy.props.FloatProperty(name="Middle", default=0.0, min=-1.0, max=1.0)
    curl_ring: bpy.props.FloatProperty(name="Ring", default=0.0, min=-1.0, max=1.0)
    curl_pinky: bpy.props.FloatProperty(name="Little", default=0.0, min=-1.0, max=1.0)

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "close", slider=True)
        layout.prop(self, "spread", slider=True)
        layout.label(text="Curl")
        for finger in topology.FINGER_JOINTS:
            layout.prop(self, f"curl_{finger}", slider=True)

    def edit(self, context, hands, unit):
        curl = {finger: getattr(self, f"curl_{finger}") for finger in topology.FINGER_JOINTS}
        for arm, skin in hands:
            data = load_hand(context, arm[SIDE_KEY])
            go, hp, tr = world_params(arm, data, unit)
            hp = adjust_pose(hp, data.rest_joints, arm[SIDE_KEY], close=self.close, curl=curl, spread=self.spread)
            set_world_params(arm, skin, data, (go, hp, tr), unit)
        return f"Adjusted the fingers of {len(hands)} hand(s)"


class JHOD_OT_mirror_hand(_HandOperator, bpy.types.Operator):
    """Replace the selected hand(s) by the other hand, mirrored through the held object's YZ plane (its local
    x = 0), then fit the fingers to the object"""

    bl_idname = "jhod.mirror_hand"
    bl_label = "Mirror Hand"

    def edit(self, context, hands, unit):
        prefs = addon_preferences(context)
        plan = []
        for arm, skin in hands:
            obj = grasped_object(context, arm)
            other = "left" if arm[SIDE_KEY] == "right" else "right"
            plan.append((arm, skin, obj, load_hand(context, arm[SIDE_KEY]), load_hand(context, other)))
        for arm, skin, obj, data, other_data in plan:
            go, hp, tr = world_params(arm, data, unit)
            # into the object's frame (metres), mirror x, back to world
            m = np.array(obj.matrix_world, dtype=np.float64)
            m[:3, 3] *= unit
            to_object = np.linalg.inv(m)
            rot = to_object[:3, :3] @ rodrigues(go[None])[0]
            joint = data.rest_joints[0]
            wrist_object = to_object[:3, :3] @ (joint + tr) + to_object[:3, 3]
            mgo, mhp, _ = mirror_grasp(_rotvec(rot), hp, np.zeros(3))
            new_go = _rotvec(m[:3, :3] @ rodrigues(mgo[None])[0])
            new_wrist = m[:3, :3] @ (wrist_object * MIRROR) + m[:3, 3]
            new_tr = new_wrist - other_data.rest_joints[0]
            collections = list(arm.users_collection)
            name = arm.name.replace("_rig", "")
            # plain copies: an ID property array still points into the rig that is about to be removed
            properties = {k: arm[k].to_list() if hasattr(arm[k], "to_list") else arm[k]
                          for k in arm.keys() if k.startswith("jhod_") and k != SIDE_KEY}
            for old in (skin, arm):
                if old is not None:
                    old_data = old.data
                    bpy.data.objects.remove(old, do_unlink=True)
                    if old_data is not None and old_data.users == 0:
                        (bpy.data.armatures if isinstance(old_data, bpy.types.Armature) else bpy.data.meshes).remove(
                            old_data)
            new_arm, new_skin = rig.build_hand(other_data, name, collections[0], meters_per_unit=unit, dressed=True)
            for key, value in properties.items():
                new_arm[key] = value
            set_world_params(new_arm, new_skin, other_data, (new_go, mhp, new_tr), unit)
            fit_fingers(context, new_arm, new_skin, obj, unit, prefs)
            new_arm.select_set(True)
            context.view_layer.objects.active = new_arm
        return f"Mirrored {len(plan)} hand(s)"


class JHOD_OT_add_approach(_HandOperator, bpy.types.Operator):
    """Animate the selected hand(s) reaching for the object: from an open hand some distance back along the
    approach to the grasp, fingers closing at the end; keys from the current frame"""

    bl_idname = "jhod.add_approach"
    bl_label = "Add Approach"

    frames: bpy.props.IntProperty(name="Frames", default=24, min=2, max=10000)
    distance: bpy.props.FloatProperty(name="Distance", default=0.12, min=0.0, max=2.0, unit="LENGTH",
                                      description="How far back along the approach the hand starts (metres)")
    close_share: bpy.props.FloatProperty(name="Closing", default=0.4, min=0.05, max=1.0, subtype="FACTOR",
                                         description="The last share of the frames in which the fingers close")

    def edit(self, context, hands, unit):
        start = context.scene.frame_current
        arrive = start + max(1, round(self.frames * (1.0 - self.close_share)))
        end = start + self.frames
        for arm, skin in hands:
            side = arm[SIDE_KEY]
            data = load_hand(context, side)
            go, hp, tr = world_params(arm, data, unit)
            _, _, keypoints = forward(data, go[None], hp[None], tr[None])
            palm = palm_directions(keypoints, side)[0]  # the hand moves along the way the palm faces
            open_pose = adjust_pose(hp, data.rest_joints, side, close=-0.8)
            keys = ((start, open_pose, tr - palm * self.distance), (arrive, open_pose, tr), (end, hp, tr))
            for frame, pose, transl in keys:
                set_world_params(arm, skin, data, (go, pose, transl), unit)
                arm.keyframe_insert("location", frame=frame)
                arm.keyframe_insert("rotation_quaternion", frame=frame)
                for bone in arm.pose.bones:
                    bone.keyframe_insert("rotation_quaternion", frame=frame)
        context.scene.frame_set(start)  # show the first key: the hand, open, away from the object
        return f"Added a {self.frames}-frame approach to {len(hands)} hand(s) (frames {start}-{end})"


_classes = (JHOD_OT_fit_fingers, JHOD_OT_adjust_fingers, JHOD_OT_mirror_hand, JHOD_OT_add_approach)


register, unregister = bpy.utils.register_classes_factory(_classes)
