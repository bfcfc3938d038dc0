"""Put a grasp on a character: "Apply to Character" retargets the selected JHOD hand's grasp onto a character rig's
hand (jhod_core.retarget: presets for MakeHuman-style, Mixamo and Rigify rigs, or a custom mapping), the arm follows
through IK, and the character's own fingers close onto the object with its own skinned mesh. "Add Reference
Character" adds the CC0 MakeHuman body (jhod_core/assets/MAKEHUMAN_CHARACTER.npz) to try it on.

Blender work only: reading rest and posed matrices, setting pose bones, a temporary IK constraint for the arm.
All geometry is in world metres (scene unit scale and the armature object's transform applied).
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from .core import JHODError, close_fingers, preset_mapping, retarget, retarget_check_mapping
from .editing import SIDE_KEY, grasped_object, hand_rig, world_params
from .operators import load_hand, scene_meters_per_unit

CHARACTER_FILE = "MAKEHUMAN_CHARACTER.npz"
MAPPING_TEXT_PREFIX = "JHOD mapping"
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
REACH_MARGIN = 0.995  # a fully straight arm cannot be solved reliably
FIT_PASSES = 3  # finger fits on the posed skin (fit_character_fingers); one is exact for a skin that moves rigidly


def _asset(name: str) -> Path:
    here = Path(__file__).resolve().parent
    for folder in (here / "jhod_core" / "assets", here.parent / "jhod_core" / "assets"):
        if (folder / name).is_file():
            return folder / name
    raise JHODError(f"{name} is missing from the add-on")


# --------------------------------------------------------------------------- the reference character

def build_character(collection, meters_per_unit: float = 1.0, location=(0.0, 0.0, 0.0), name: str = "Character"):
    """(armature, mesh) of the reference MakeHuman body, at `location` (scene units)."""
    with np.load(_asset(CHARACTER_FILE), allow_pickle=False) as z:
        c = {k: z[k] for k in z.files}
    names = [str(n) for n in c["bone_names"]]
    arm = bpy.data.objects.new(f"{name}_rig", bpy.data.armatures.new(f"{name}_armature"))
    collection.objects.link(arm)
    arm.scale = (1.0 / meters_per_unit,) * 3
    arm.location = location
    from .rig import edit_mode, skin_material

    with edit_mode(arm) as edit_bones:
        bones = []
        for k, bone_name in enumerate(names):
            bone = edit_bones.new(bone_name)
            m = c["bone_matrices"][k].astype(np.float64)
            bone.head = m[:3, 3].tolist()
            bone.tail = (m[:3, 3] + m[:3, 1] * float(c["bone_lengths"][k])).tolist()
            bone.align_roll(m[:3, 2].tolist())  # z axis as in the source rig
            bones.append(bone)
        for k, parent in enumerate(c["bone_parents"]):
            if parent >= 0:
                bones[k].parent = bones[parent]
    mesh_data = bpy.data.meshes.new(f"{name}_mesh")
    mesh_data.from_pydata(c["vertices"].astype(np.float64).tolist(), [], c["faces"].tolist())
    mesh_data.update()
    mesh_data.shade_smooth()
    mesh = bpy.data.objects.new(f"{name}_body", mesh_data)
    collection.objects.link(mesh)
    mesh.parent = arm
    groups = [mesh.vertex_groups.new(name=n) for n in names]
    index, weight = c["weight_bones"], c["weight_values"]
    for b in range(len(names)):
        rows, cols = np.nonzero((index == b) & (weight > 0))
        for v, w in zip(rows.tolist(), weight[rows, cols].tolist()):
            groups[b].add([v], w, "ADD")
    modifier = mesh.modifiers.new("Armature", "ARMATURE")
    modifier.object = arm
    mesh_data.materials.append(skin_material(meters_per_unit))
    for bone in arm.pose.bones:
        bone.rotation_mode = "QUATERNION"
    return arm, mesh


class JHOD_OT_add_character(bpy.types.Operator):
    """Add the reference MakeHuman character (CC0, rigged and skinned) at the 3D cursor"""

    bl_idname = "jhod.add_character"
    bl_label = "Add Reference Character"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        if context.mode != "OBJECT":
            self.report({"ERROR"}, "Switch to Object Mode to add the character")
            return {"CANCELLED"}
        try:
            collection = bpy.data.collections.new("JHOD character")
            context.scene.collection.children.link(collection)
            arm, _ = build_character(collection, scene_meters_per_unit(context.scene), context.scene.cursor.location)
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        arm["jhod_character_preset"] = "makehuman"
        context.view_layer.objects.active = arm
        self.report({"INFO"}, f"Added {arm.name} (MakeHuman rig, preset 'makehuman')")
        return {"FINISHED"}


# --------------------------------------------------------------------------- mapping

def mapping_for(preset: str, side: str, text_name: str = "") -> dict:
    """The bone mapping: a preset, or ``custom``: the JSON in Blender text ``text_name`` (made from a preset with
    "Save Mapping", edited by the artist; "{S}" in a name stands for R/L, "{Side}" for Right/Left)."""
    if preset != "custom":
        return preset_mapping(preset, side)
    text = bpy.data.texts.get(text_name)
    if text is None:
        raise JHODError(f"No text '{text_name}' with a custom mapping: use Save Mapping to start one from a preset")
    try:
        raw = json.loads(text.as_string())
    except json.JSONDecodeError as exc:
        raise JHODError(f"The mapping in text '{text_name}' is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise JHODError(f"The mapping in text '{text_name}' must be a JSON object of joint name -> bone name")
    s, word = ("R", "Right") if side == "right" else ("L", "Left")
    return {k: v.replace("{S}", s).replace("{Side}", word) for k, v in raw.items()}


class JHOD_OT_save_mapping(bpy.types.Operator):
    """Write a preset's bone mapping into a Blender text (saved with the file) to edit it as a custom mapping"""

    bl_idname = "jhod.save_mapping"
    bl_label = "Save Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.jhod
        preset = settings.character_preset if settings.character_preset != "custom" else "makehuman"
        mapping = preset_mapping(preset, "right")
        generic = {k: v.replace(".R", ".{S}").replace("Right", "{Side}") for k, v in mapping.items()}
        name = f"{MAPPING_TEXT_PREFIX} ({preset})"
        text = bpy.data.texts.get(name) or bpy.data.texts.new(name)
        text.from_string(json.dumps(generic, indent=1))
        settings.character_preset, settings.mapping_text = "custom", name
        self.report({"INFO"}, f"Wrote the {preset} mapping to text '{name}'; edit it there (custom preset)")
        return {"FINISHED"}


# --------------------------------------------------------------------------- apply

def _world_metres(arm, unit: float) -> np.ndarray:
    m = np.array(arm.matrix_world, dtype=np.float64)
    m[:3, 3] *= unit
    m[:3, :3] *= unit  # bone coordinates in scene units -> metres
    return m


def _orthonormal(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[:3, :3] = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
    return out


def character_meshes(arm) -> list:
    return [o for o in bpy.data.objects if o.type == "MESH" and any(
        m.type == "ARMATURE" and m.object == arm for m in o.modifiers)]


def _set_bone_world(arm, pbone, rotation: np.ndarray, head_world: np.ndarray | None, to_armature: np.ndarray):
    """Pose `pbone` so its world rotation is `rotation` and (if given) its head is at `head_world` (metres)."""
    current = np.array(pbone.matrix, dtype=np.float64)
    target = np.eye(4)
    scale = np.linalg.norm(current[:3, :3], axis=0)
    target[:3, :3] = (to_armature[:3, :3] @ rotation)
    target[:3, :3] /= np.linalg.norm(target[:3, :3], axis=0)
    target[:3, :3] *= scale
    target[:3, 3] = current[:3, 3] if head_world is None else (to_armature @ np.append(head_world, 1.0))[:3]
    pbone.matrix = Matrix(target.tolist())
    bpy.context.view_layer.update()


def _solve_arm(arm, mapping: dict, wrist_head: np.ndarray, world: np.ndarray) -> None:
    """Move the arm so the wrist reaches `wrist_head` (world metres): a temporary IK constraint on the forearm
    from the upper arm down, its result kept as the pose, the constraint and its target removed."""
    bones = arm.pose.bones
    chain, bone = [], bones[mapping["forearm"]]
    while bone is not None:
        chain.append(bone)
        if bone.name == mapping["upper_arm"]:
            break
        bone = bone.parent
    if chain[-1].name != mapping["upper_arm"]:
        raise JHODError(f"'{mapping['upper_arm']}' is not above '{mapping['forearm']}' in the rig: fix the mapping")
    start = (world @ np.append(np.array(chain[-1].head), 1.0))[:3]
    reach = sum(np.linalg.norm(world[:3, :3] @ (np.array(b.tail) - np.array(b.head))) for b in chain)
    distance = float(np.linalg.norm(wrist_head - start))
    if distance > REACH_MARGIN * reach:
        raise JHODError(f"The character's arm cannot reach the grasp: the wrist would be {distance:.2f} m from the "
                        f"shoulder, the arm is {reach:.2f} m long. Move the character or the object closer")
    target = bpy.data.objects.new("JHOD IK target", None)
    bpy.context.scene.collection.objects.link(target)
    target.matrix_world = Matrix.Translation((np.linalg.inv(world) @ np.append(wrist_head, 1.0))[:3].tolist())
    target.matrix_world = arm.matrix_world @ target.matrix_world
    constraint = chain[0].constraints.new("IK")
    constraint.target, constraint.chain_count, constraint.use_tail = target, len(chain), True
    try:
        bpy.context.view_layer.update()
        solved = [np.array(b.matrix, dtype=np.float64) for b in chain]
    finally:
        chain[0].constraints.remove(constraint)
        bpy.data.objects.remove(target, do_unlink=True)
    bpy.context.view_layer.update()
    for b, m in zip(reversed(chain), reversed(solved)):  # parents first
        b.matrix = Matrix(m.tolist())
        bpy.context.view_layer.update()


def _finger_vertices(meshes, mapping: dict, depsgraph, unit: float) -> dict:
    """Bone name -> (n, 3) world-metre vertices of the character's evaluated skin that the bone (or its deform bone
    ``DEF-<name>``) moves most."""
    names = {mapping[f"{f}{i}"] for f in FINGERS for i in (1, 2, 3)}
    out = {n: [] for n in names}
    for mesh in meshes:
        # a control bone (Rigify's FK fingers) moves the skin through its deform bone "DEF-<name>"
        groups = {}
        for g in mesh.vertex_groups:
            name = g.name if g.name in names else g.name[4:] if g.name.startswith("DEF-") else None
            if name in names:
                groups[g.index] = name
        if not groups:
            continue
        dominant = {}
        for v in mesh.data.vertices:
            best = max(((g.weight, g.group) for g in v.groups), default=(0.0, -1))
            if best[1] in groups and best[0] > 0.3:
                dominant[v.index] = groups[best[1]]
        evaluated = mesh.evaluated_get(depsgraph)
        me = evaluated.to_mesh()
        try:
            co = np.empty(len(me.vertices) * 3)
            me.vertices.foreach_get("co", co)
        finally:
            evaluated.to_mesh_clear()
        co = co.reshape(-1, 3)
        m = np.array(evaluated.matrix_world, dtype=np.float64)
        world = (co @ m[:3, :3].T + m[:3, 3]) * unit
        if len(world) != len(mesh.data.vertices):
            raise JHODError(f"'{mesh.name}' changes its vertex count in its modifiers: disable subdivision first")
        for i, name in dominant.items():
            out[name].append(world[i])
    return {n: np.array(v).reshape(-1, 3) for n, v in out.items()}


def apply_to_character(context, arm_hand, skin, character, preset: str, text_name: str = "") -> dict:
    """Retarget the JHOD hand's grasp onto `character`'s hand of the same side; returns what was done."""
    unit = scene_meters_per_unit(context.scene)
    side = arm_hand[SIDE_KEY]
    data = load_hand(context, side)
    params = world_params(arm_hand, data, unit)
    obj = grasped_object(context, arm_hand)
    mapping = mapping_for(preset, side, text_name)
    bones = character.pose.bones
    retarget_check_mapping(mapping, set(bones.keys()), f"'{character.name}'")
    meshes = character_meshes(character)
    if not meshes:
        raise JHODError(f"'{character.name}' has no skinned mesh (a mesh with an Armature modifier on it)")
    world = _world_metres(character, unit)
    rest = {mapping[j]: _orthonormal(world @ np.array(character.data.bones[mapping[j]].matrix_local))
            for j in mapping if j not in ("forearm", "upper_arm", "ik_control")}
    result = retarget(data, params, side, rest, mapping)
    saved = {b.name: (b.rotation_mode, tuple(b.rotation_quaternion), tuple(b.rotation_euler), tuple(b.location))
             for b in bones}
    try:
        if "forearm" in mapping:
            _solve_arm(character, mapping, result["wrist_head"], world)
        to_armature = np.linalg.inv(world)
        wrist = bones[mapping["wrist"]]
        head = None if wrist.bone.use_connect else result["wrist_head"]
        _set_bone_world(character, wrist, result["rotations"][wrist.name], head, to_armature)
        for finger in FINGERS:
            for i in (1, 2, 3):
                pbone = bones[mapping[f"{finger}{i}"]]
                _set_bone_world(character, pbone, result["rotations"][pbone.name], None, to_armature)
        fitted = fit_character_fingers(context, character, meshes, mapping, obj, unit, result["bend_axes"])
    except Exception:
        for b in bones:  # leave the rig as it was (the operator's undo step would too; a script has none)
            mode, quaternion, euler, location = saved[b.name]
            b.rotation_mode, b.rotation_quaternion, b.rotation_euler, b.location = mode, quaternion, euler, location
        bpy.context.view_layer.update()
        raise
    character["jhod_grasp_object"] = obj.name
    return {"side": side, "object": obj.name, "fitted": fitted}


def fit_character_fingers(context, character, meshes, mapping: dict, obj, unit: float, bend_axes: dict) -> dict:
    """Close the character's fingers onto `obj` with its own skin (jhod_core.retarget.close_fingers)."""
    from .core import ObjectSurface, sample_triangles
    from .selection import world_mesh

    depsgraph = context.evaluated_depsgraph_get()
    vertices, triangles = world_mesh(obj, depsgraph)
    points, normals, _ = sample_triangles(vertices * unit, triangles, 8192, seed=0)
    surface = ObjectSurface.from_points(points, normals)
    world = _world_metres(character, unit)
    to_armature = np.linalg.inv(world)
    bones = character.pose.bones
    total = {finger: np.zeros(3) for finger in FINGERS}
    # close_fingers moves each finger's skin rigidly with its bones; a rig whose skin bends with its neighbours
    # (Rigify's deform bones are B-bones) ends elsewhere, so the fit starts again from the skin as posed
    for _ in range(FIT_PASSES):
        skin = _finger_vertices(meshes, mapping, context.evaluated_depsgraph_get(), unit)
        fingers = {}
        for finger in FINGERS:
            names = [mapping[f"{finger}{i}"] for i in (1, 2, 3)]
            heads = [(world @ np.append(np.array(bones[n].head), 1.0))[:3] for n in names]
            fingers[finger] = {"heads": heads, "axes": [bend_axes[n] for n in names],
                               "segments": [skin[n] for n in names]}
        angles = close_fingers(fingers, surface)
        for finger, finger_angles in angles.items():
            total[finger] += finger_angles
            for i, angle in enumerate(finger_angles):
                if angle == 0.0:
                    continue
                name = mapping[f"{finger}{i + 1}"]
                pbone = bones[name]
                current = _orthonormal(world @ np.array(pbone.matrix, dtype=np.float64))[:3, :3]
                # the joints after this one moved with it: their bend axes turn too (close_fingers composed them so)
                axis = np.asarray(bend_axes[name], dtype=np.float64)
                turn = np.array(Matrix.Rotation(float(angle), 3, axis.tolist()))
                _set_bone_world(character, pbone, turn @ current, None, to_armature)
                for j in range(i + 1, 3):
                    later = mapping[f"{finger}{j + 1}"]
                    bend_axes[later] = turn @ np.asarray(bend_axes[later])
        if max(np.abs(a).max() for a in angles.values()) < np.radians(0.5):
            break
    return {f: [float(np.degrees(a)) for a in v] for f, v in total.items()}


def character_armatures(self, context):
    return [(o.name, o.name, "") for o in context.scene.objects if o.type == "ARMATURE" and hand_rig(o) is None] or \
        [("NONE", "(no character armature)", "")]


class JHOD_OT_apply_to_character(bpy.types.Operator):
    """Put the selected hand's grasp on a character: its hand bones take the grasp, the arm follows, its fingers
    close onto the object"""

    bl_idname = "jhod.apply_to_character"
    bl_label = "Apply to Character"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.jhod
        try:
            if context.mode != "OBJECT":
                raise JHODError("Switch to Object Mode to apply a grasp to a character")
            found = hand_rig(context.active_object)
            if found is None:
                raise JHODError("Select the JHOD hand whose grasp the character should take")
            character = context.scene.objects.get(settings.character)
            if character is None or character.type != "ARMATURE":
                raise JHODError("Pick the character's armature in the panel (Character)")
            done = apply_to_character(context, *found, character, settings.character_preset, settings.mapping_text)
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{character.name}'s {done['side']} hand now holds {done['object']}")
        return {"FINISHED"}


_classes = (JHOD_OT_add_character, JHOD_OT_save_mapping, JHOD_OT_apply_to_character)


register, unregister = bpy.utils.register_classes_factory(_classes)
