"""Apply to Character in real bpy: a grasp of the shipped model on a cylinder, put on the CC0 MakeHuman character
(also renamed to Mixamo bone names, and in a centimetre scene) and on a generated Rigify rig, both sides; the
character's hand takes the grasp's orientation, the arm reaches, its own fingers touch without sinking in; bad input
changes nothing."""

from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")

import jhod_blender  # noqa: E402
from jhod_blender import character, editing  # noqa: E402
from jhod_core.geometry.inside import signed_distance  # noqa: E402
from jhod_core.hand import load_hand_data  # noqa: E402
from tests.rigs import rigify_character  # noqa: E402
from jhod_core.retarget import (FINGERS, _frame, mano_global_rotations, mano_rest, palmar_normal,  # noqa: E402
                                preset_mapping, rest_frames)

REACHABLE = {"right": (-0.26, -0.30, 1.12), "left": (0.26, -0.30, 1.12)}  # in front of the chest, metres
SHOULDER = {"right": (-0.16, -0.02, 1.29), "left": (0.16, -0.02, 1.29)}  # the added character's upper arms, metres


@pytest.fixture()
def addon():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    jhod_blender.register()
    addons = bpy.context.preferences.addons
    entry = addons.get("jhod_blender") or addons.new()
    entry.module = "jhod_blender"
    entry.preferences.backend = "NUMPY"
    scene = bpy.context.scene
    scene.jhod.num_grasps, scene.jhod.seed = 1, 0
    yield SimpleNamespace(scene=scene)
    jhod_blender.unregister()
    addons.remove(entry)


def add_character(unit=1.0):
    bpy.context.scene.unit_settings.scale_length = unit
    assert bpy.ops.jhod.add_character() == {"FINISHED"}
    return bpy.context.view_layer.objects.active


def grasp_on_cylinder(side, location_m, shoulder_m, unit=1.0, grasps=4):
    """A cylinder (can-sized) and, of the shipped model's first ``grasps`` grasps of it (seed 0), the JHOD hand whose
    wrist is nearest the character's shoulder: as an artist picks a grasp the arm can reach (which grasp comes first
    changes with every model and refinement; a grasp from the far side of the can is out of reach)."""
    bpy.ops.mesh.primitive_cylinder_add(radius=0.03 / unit, depth=0.12 / unit,
                                        location=[c / unit for c in location_m])
    cylinder = bpy.context.active_object
    bpy.context.scene.jhod.side = side
    bpy.context.scene.jhod.num_grasps = grasps
    before = set(bpy.data.objects)
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    hands = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    assert len(hands) == grasps
    shoulder = np.asarray(shoulder_m) / unit
    hand = min(hands, key=lambda h: np.linalg.norm(np.array(h.matrix_world.translation) - shoulder))
    bpy.context.view_layer.objects.active = hand
    return cylinder, hand


def pose_state(arm):
    return {b.name: (tuple(b.rotation_quaternion), tuple(b.location)) for b in arm.pose.bones}


def mano_touching(hand, cylinder, side, unit=1.0):
    """Digits of the JHOD hand itself within 3 mm of the cylinder: what the character can be expected to match."""
    import trimesh

    from jhod_blender import rig
    from jhod_blender.selection import world_mesh
    from jhod_core.hand.regions import finger_vertex_ids
    skin = next(c for c in hand.children if c.type == "MESH")
    v, f = world_mesh(cylinder, bpy.context.evaluated_depsgraph_get())
    sd = signed_distance(trimesh.Trimesh(v * unit, f), rig.evaluated_vertices(skin) * unit)
    return sum(bool((sd[ids] <= 0.003).any()) for ids in finger_vertex_ids(load_hand_data(side=side)).values())


def hand_report(char, cylinder, mapping, unit=1.0):
    """(deepest penetration of the character's finger skin into the cylinder (m), fingers touching within 3 mm)."""
    import trimesh

    from jhod_blender.selection import world_mesh
    depsgraph = bpy.context.evaluated_depsgraph_get()
    skin = character._finger_vertices(character.character_meshes(char), mapping, depsgraph, unit)
    v, f = world_mesh(cylinder, depsgraph)
    mesh = trimesh.Trimesh(v * unit, f)
    depth, touching = 0.0, 0
    for finger in FINGERS:
        sd = np.concatenate([signed_distance(mesh, skin[mapping[f"{finger}{i}"]]) for i in (1, 2, 3)])
        depth = max(depth, float(-sd.min()))
        touching += bool((sd <= 0.003).any())
    return depth, touching


def check_wrist_frame(char, hand, mapping, side, unit=1.0):
    """The character's wrist has MANO's posed anatomical frame (the same hand orientation on every rig)."""
    data = load_hand_data(side=side)
    go, hp, tr = editing.world_params(hand, data, unit)
    heads, dirs = mano_rest(data)
    posed = mano_global_rotations(go, hp)[0] @ rest_frames(heads, dirs, side)["wrist"]
    world = character._world_metres(char, unit)
    bones = char.data.bones
    rest = {mapping[j]: character._orthonormal(world @ np.array(bones[mapping[j]].matrix_local))
            for j in ("wrist", "index1", "middle1", "pinky1")}
    heads_c = {j: rest[mapping[j]][:3, 3] for j in ("wrist", "index1", "middle1", "pinky1")}
    frame_c = _frame(heads_c["middle1"] - heads_c["wrist"], palmar_normal(heads_c, side))
    wrist_rest = rest[mapping["wrist"]][:3, :3]
    wrist_now = character._orthonormal(world @ np.array(char.pose.bones[mapping["wrist"]].matrix))[:3, :3]
    frame_now = wrist_now @ wrist_rest.T @ frame_c
    assert np.abs(frame_now - posed).max() < 2e-3


@pytest.mark.parametrize("side", ["right", "left"])
def test_makehuman_character_holds_the_grasp(addon, side):
    char = add_character()
    cylinder, hand = grasp_on_cylinder(side, REACHABLE[side], SHOULDER[side])
    addon.scene.jhod.character, addon.scene.jhod.character_preset = char.name, "makehuman"
    bpy.context.view_layer.objects.active = hand
    assert bpy.ops.jhod.apply_to_character() == {"FINISHED"}
    mapping = preset_mapping("makehuman", side)
    check_wrist_frame(char, hand, mapping, side)
    depth, touching = hand_report(char, cylinder, mapping)
    assert depth < 0.002 and touching >= min(3, mano_touching(hand, cylinder, side)), (depth, touching)


@pytest.mark.parametrize("side", ["right", "left"])
def test_mixamo_names_and_a_centimetre_scene(addon, side):
    """The same character with Mixamo bone names, in a scene whose unit is the centimetre."""
    unit = 0.01
    char = add_character(unit)
    mixamo, makehuman = preset_mapping("mixamo", side), preset_mapping("makehuman", side)
    for joint, name in makehuman.items():
        char.data.bones[name].name = mixamo[joint]  # vertex groups follow the bones' names
    cylinder, hand = grasp_on_cylinder(side, REACHABLE[side], SHOULDER[side], unit)
    addon.scene.jhod.character, addon.scene.jhod.character_preset = char.name, "mixamo"
    bpy.context.view_layer.objects.active = hand
    assert bpy.ops.jhod.apply_to_character() == {"FINISHED"}
    check_wrist_frame(char, hand, mixamo, side, unit)
    depth, touching = hand_report(char, cylinder, mixamo, unit)
    assert depth < 0.002 and touching >= min(3, mano_touching(hand, cylinder, side, unit)), (depth, touching)


def test_bad_input_changes_nothing(addon):
    char = add_character()
    cylinder, hand = grasp_on_cylinder("right", REACHABLE["right"], SHOULDER["right"])
    settings = addon.scene.jhod
    before = pose_state(char)

    def refused(pattern):
        bpy.context.view_layer.objects.active = hand
        with pytest.raises(RuntimeError, match=pattern):
            bpy.ops.jhod.apply_to_character()
        assert pose_state(char) == before

    settings.character = ""
    refused("Pick the character's armature")
    lone = bpy.data.objects.new("lone", bpy.data.armatures.new("lone"))
    addon.scene.collection.objects.link(lone)
    settings.character = lone.name
    refused("none of the mapped hand bones")
    settings.character, settings.character_preset = char.name, "mixamo"
    refused("none of the mapped hand bones")
    settings.character_preset = "custom"
    assert bpy.ops.jhod.save_mapping() == {"FINISHED"}  # from the custom preset: starts from makehuman
    text = bpy.data.texts[settings.mapping_text]
    text.from_string(text.as_string().replace("finger2-3.{S}", "finger2-9.{S}"))
    refused("lacks 1 mapped bone.*index3")
    text.from_string("{not json")
    refused("not valid JSON")
    settings.character_preset = "makehuman"
    cylinder.location = (-0.26, -1.5, 1.12)  # far in front of the character
    bpy.context.view_layer.update()
    hand.location = (hand.location[0], hand.location[1] - 1.2, hand.location[2])
    refused("cannot reach")
    bpy.context.view_layer.objects.active = cylinder
    with pytest.raises(RuntimeError, match="Select the JHOD hand"):
        bpy.ops.jhod.apply_to_character()


@pytest.mark.parametrize("side", ["right", "left"])
def test_rigify_rig(addon, side):
    """Rigify's generated human rig (FK finger controls): a crude skin on its deform bones is enough to hold."""
    s = "R" if side == "right" else "L"
    rigify, skin = rigify_character(s)
    shoulder = np.array(rigify.matrix_world @ rigify.pose.bones[f"upper_arm_fk.{s}"].head)
    offset = np.array([-0.10, -0.28, -0.17]) * ([1, 1, 1] if side == "right" else [-1, 1, 1])
    cylinder, hand = grasp_on_cylinder(side, tuple(shoulder + offset), shoulder)  # in front of the chest, within reach
    addon.scene.jhod.character, addon.scene.jhod.character_preset = rigify.name, "rigify"
    bpy.context.view_layer.objects.active = hand
    assert bpy.ops.jhod.apply_to_character() == {"FINISHED"}
    mapping = preset_mapping("rigify", side)
    check_wrist_frame(rigify, hand, mapping, side)
    assert skin.modifiers["Armature"].object == rigify
    depth, touching = hand_report(rigify, cylinder, mapping)  # the FK controls move the skin via DEF- bones
    assert depth < 0.002 and touching >= min(3, mano_touching(hand, cylinder, side)), (depth, touching)
