"""The add-on's rigged, skinned, animated hand leaves Blender intact: exported to FBX and glTF and imported again,
every joint is where it was at every key (real bpy, Blender's own exporters and importers)."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
import addon_utils  # noqa: E402  (Blender's own module: importable once bpy is)

from jhod_blender import rig  # noqa: E402
from jhod_core.hand import load_hand_data  # noqa: E402
from jhod_core.hand.poses import named_pose  # noqa: E402

FRAMES = (1, 12)
TOLERANCE_M = 0.001


def joint_positions(arm) -> dict:
    """World position (metres) of every bone's head at each key frame."""
    out = {}
    for frame in FRAMES:
        bpy.context.scene.frame_set(frame)
        world = np.array(arm.matrix_world)
        out[frame] = {b.name: world[:3, :3] @ np.array(b.head) + world[:3, 3] for b in arm.pose.bones}
    return out


def animated_hand(side: str):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    data = load_hand_data(side=side)
    arm, skin = rig.build_hand(data, "hand", bpy.context.scene.collection, dressed=True)
    poses = [(np.array([0.3, -0.4, 0.2]), named_pose("relaxed", data), np.array([0.05, 0.02, 0.1])),
             (np.array([0.1, 0.5, -0.3]), named_pose("fist", data), np.array([-0.02, 0.08, 0.03]))]
    for frame, (go, hp, tr) in zip(FRAMES, poses):
        rig.apply_pose(arm, skin, data, go, hp, tr)
        arm.keyframe_insert("location", frame=frame)
        for bone in arm.pose.bones:
            bone.keyframe_insert("rotation_quaternion", frame=frame)
    return arm, skin


def exporters():
    for module in ("io_scene_fbx", "io_scene_gltf2"):
        addon_utils.enable(module, default_set=True)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("fmt", ["fbx", "glb"])
def test_export_and_import_keep_every_joint(tmp_path, fmt, side):
    exporters()
    arm, skin = animated_hand(side)
    expected = joint_positions(arm)
    path = tmp_path / f"hand.{fmt}"
    bpy.ops.object.select_all(action="DESELECT")
    arm.select_set(True)
    skin.select_set(True)
    bpy.context.view_layer.objects.active = arm
    if fmt == "fbx":
        assert bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True, object_types={"ARMATURE", "MESH"},
                                        bake_anim=True, add_leaf_bones=False) == {"FINISHED"}
    else:
        assert bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True,
                                         export_animations=True) == {"FINISHED"}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    exporters()
    if fmt == "fbx":
        assert bpy.ops.import_scene.fbx(filepath=str(path)) == {"FINISHED"}
    else:
        assert bpy.ops.import_scene.gltf(filepath=str(path)) == {"FINISHED"}
    imported = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    # the glTF importer adds an icosphere to draw the bones with; the hand is the skinned mesh
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and any(m.type == "ARMATURE" for m in o.modifiers)]
    assert len(meshes) == 1 and meshes[0].parent == imported  # still skinned to its armature
    assert {g.name for g in meshes[0].vertex_groups} >= set(expected[FRAMES[0]])
    got = joint_positions(imported)
    for frame in FRAMES:
        assert set(got[frame]) >= set(expected[frame])
        error = max(np.linalg.norm(got[frame][name] - p) for name, p in expected[frame].items())
        assert error < TOLERANCE_M, (fmt, side, frame, error)
    moved = max(np.linalg.norm(got[FRAMES[1]][n] - got[FRAMES[0]][n]) for n in expected[FRAMES[0]])
    assert moved > 0.02  # the animation came along, not only the first pose
