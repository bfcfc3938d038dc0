"""Editing hands in real Blender (bpy): steering the generation, Fit Fingers, Adjust Fingers, Mirror Hand, Add
Approach; each checked against jhod_core, and bad input changes nothing (tiny random-weight models, as in
test_blender_generate.py: the contract is checked, not grasp quality)."""

from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
torch = pytest.importorskip("torch")

from jhod_blender import backend, editing, rig  # noqa: E402
from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.hand.adjust import adjust_pose  # noqa: E402
from jhod_core.steering import palm_directions  # noqa: E402

STEPS = 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _one_grasp(addon):
    addon.scene.jhod.num_grasps = 1


def add_cube(location=(0.2, -0.1, 0.05)):
    bpy.ops.mesh.primitive_cube_add(size=0.07, location=location)
    cube = bpy.context.active_object
    cube.rotation_euler = (0.3, 0.0, 0.5)
    return cube


def generate(cube):
    bpy.ops.object.select_all(action="DESELECT")
    cube.select_set(True)
    bpy.context.view_layer.objects.active = cube
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    arm = bpy.context.view_layer.objects.active
    return arm, next(c for c in arm.children if c.type == "MESH")


def select_only(*objects):
    bpy.ops.object.select_all(action="DESELECT")
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]


def params(arm, side="right"):
    return editing.world_params(arm, load_hand_data(side=side), 1.0)


def scene_state():
    return {o.name: (tuple(o.matrix_world.translation), tuple(o.rotation_quaternion) if o.type == "ARMATURE" else ())
            for o in bpy.data.objects}


def test_world_params_follow_the_rig_object_transform(addon):
    """Moving and rotating the armature object is part of the hand's world pose."""
    arm, skin = generate(add_cube())
    data = load_hand_data()
    arm.rotation_mode = "XYZ"
    arm.rotation_euler = (0.4, -0.2, 0.7)
    arm.location = (0.05, 0.02, -0.03)
    bpy.context.view_layer.update()
    go, hp, tr = params(arm)
    np.testing.assert_allclose(rig.evaluated_vertices(skin), numpy_forward(data, go, hp, tr)[0][0], atol=1e-5)
    editing.set_world_params(arm, skin, data, (go, hp, tr), 1.0)  # written back: the same hand
    bpy.context.view_layer.update()
    np.testing.assert_allclose(rig.evaluated_vertices(skin), numpy_forward(data, go, hp, tr)[0][0], atol=1e-5)


def test_fit_fingers_is_the_refiner_on_the_current_pose(addon):
    cube = add_cube()
    arm, skin = generate(cube)
    arm.location = (arm.location[0] + 0.02, arm.location[1], arm.location[2])  # the artist moves the hand
    bpy.context.view_layer.update()
    go, hp, tr = params(arm)
    select_only(arm)
    assert bpy.ops.jhod.fit_fingers() == {"FINISHED"}
    from jhod_blender import selection
    vertices, triangles = selection.world_mesh(cube, bpy.context.evaluated_depsgraph_get())
    expected = backend.refine({"global_orient": go[None], "hand_pose": hp[None], "transl": tr[None],
                               "keypoints": np.zeros((1, 21, 3))}, (vertices, triangles), 3)
    got = params(arm)
    np.testing.assert_allclose(numpy_forward(load_hand_data(), *got)[0][0],
                               numpy_forward(load_hand_data(), expected["global_orient"][0], expected["hand_pose"][0],
                                             expected["transl"][0])[0][0], atol=1e-5)


def test_adjust_fingers_closes_and_opens_inside_the_limits(addon):
    arm, skin = generate(add_cube())
    data = load_hand_data()
    go, hp, tr = params(arm)
    select_only(arm)
    assert bpy.ops.jhod.adjust_fingers(close=1.0, curl_index=-0.5, spread=0.3) == {"FINISHED"}
    got = params(arm)
    expected = adjust_pose(hp, data.rest_joints, "right", close=1.0, curl={"index": -0.5}, spread=0.3)
    np.testing.assert_allclose(got[1], expected, atol=1e-5)
    np.testing.assert_allclose(got[2], tr, atol=1e-6)
    np.testing.assert_allclose(got[0], go, atol=1e-5)


def test_add_approach_keys_an_open_hand_coming_from_behind_the_palm(addon):
    arm, skin = generate(add_cube())
    data = load_hand_data()
    go, hp, tr = params(arm)
    addon.scene.frame_set(10)
    select_only(arm)
    assert bpy.ops.jhod.add_approach(frames=20, distance=0.1) == {"FINISHED"}
    _, _, keypoints = numpy_forward(data, go, hp, tr)
    palm = palm_directions(keypoints, "right")[0]
    addon.scene.frame_set(10)
    start = params(arm)
    np.testing.assert_allclose(start[2], tr - 0.1 * palm, atol=1e-5)
    np.testing.assert_allclose(start[1], adjust_pose(hp, data.rest_joints, "right", close=-0.8), atol=1e-4)
    addon.scene.frame_set(30)
    end = params(arm)
    np.testing.assert_allclose(end[2], tr, atol=1e-6)
    np.testing.assert_allclose(end[1], hp, atol=1e-4)
    from bpy_extras.anim_utils import animdata_get_channelbag_for_assigned_slot
    curves = animdata_get_channelbag_for_assigned_slot(arm.animation_data).fcurves
    assert {int(k.co[0]) for fc in curves for k in fc.keyframe_points} == {10, 22, 30}
    assert {fc.data_path for fc in curves} >= {"location", 'pose.bones["index1"].rotation_quaternion'}


def test_mirror_hand_swaps_sides_in_place(addon):
    cube = add_cube()
    arm, skin = generate(cube)
    n_objects, n_armatures = len(bpy.data.objects), len(bpy.data.armatures)
    collection = arm.users_collection[0]
    select_only(arm)
    assert bpy.ops.jhod.mirror_hand() == {"FINISHED"}
    new = bpy.context.view_layer.objects.active  # the old rig is gone (its Python object must not be touched)
    assert new["jhod_side"] == "left" and new.users_collection[0] == collection
    assert len(bpy.data.objects) == n_objects and len(bpy.data.armatures) == n_armatures
    assert new["jhod_object"] == cube.name and new["jhod_seed"] == 3
    # mirrored back to the right: the same kind of hand again, near where it started
    select_only(new)
    assert bpy.ops.jhod.mirror_hand() == {"FINISHED"}
    assert bpy.context.view_layer.objects.active["jhod_side"] == "right"


@pytest.mark.parametrize("operator", ["fit_fingers", "adjust_fingers", "mirror_hand", "add_approach"])
def test_editing_without_a_hand_says_so_and_changes_nothing(addon, operator):
    cube = add_cube()
    select_only(cube)
    before = scene_state()
    with pytest.raises(RuntimeError, match="Select a JHOD hand"):
        getattr(bpy.ops.jhod, operator)()
    assert scene_state() == before


def test_fit_fingers_without_an_object_says_so(addon):
    cube = add_cube()
    arm, _ = generate(cube)
    bpy.data.objects.remove(cube, do_unlink=True)
    select_only(arm)
    before = scene_state()
    with pytest.raises(RuntimeError, match="No object for"):
        bpy.ops.jhod.fit_fingers()
    assert scene_state() == before


def test_steering_from_the_panel(addon):
    """Near the 3D cursor / from an axis / a type: the operator passes them to the pipeline and still builds
    num hands; wishes that cannot be met are refused before anything is added."""
    cube = add_cube()
    settings = addon.scene.jhod
    settings.num_grasps = 2
    addon.scene.cursor.location = (0.2, -0.1, 0.09)
    settings.steer_target, settings.steer_approach, settings.steer_type = "CURSOR", "-Z", "power"
    arm, _ = generate(cube)
    assert len([o for o in bpy.data.objects if o.type == "ARMATURE"]) == 2
    before = len(bpy.data.objects)
    settings.steer_target = "FACES"
    for polygon in cube.data.polygons:
        polygon.select = False
    select_only(cube)
    with pytest.raises(RuntimeError, match="Selected Faces needs faces selected"):
        bpy.ops.jhod.generate_grasp()
    assert len(bpy.data.objects) == before
    settings.steer_target, settings.steer_approach = "ANY", "VIEW"  # the file's 3D viewport gives the direction
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    from jhod_blender.operators import scene_steering
    from jhod_core.errors import JHODError
    no_viewport = SimpleNamespace(scene=addon.scene, screen=None, region_data=None)
    with pytest.raises(JHODError, match="From View needs a 3D viewport"):
        scene_steering(no_viewport, [cube], 1.0)
    cube.data.polygons[0].select = True
    settings.steer_target, settings.steer_approach = "FACES", "ANY"
    select_only(cube)
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}


def test_render_conditioning_maps_from_the_active_camera(addon, tmp_path):
    """Maps of the artist's camera and frame, in a temporary scene: the artist's scene is unchanged, every map is
    written at the render size, the hand's keypoints land on the hand in the mask."""
    import json

    from jhod_blender import render
    cube = add_cube(location=(0.0, 0.0, 0.0))
    arm, skin = generate(cube)
    cam_data = bpy.data.cameras.new("cam")
    cam = bpy.data.objects.new("cam", cam_data)
    addon.scene.collection.objects.link(cam)
    addon.scene.camera = cam
    cam.location = (0.0, -0.45, 0.12)
    cam.rotation_euler = (1.32, 0.0, 0.0)
    addon.scene.render.resolution_x, addon.scene.render.resolution_y = 160, 120
    addon.scene.render.resolution_percentage = 100
    addon.scene.frame_set(7)
    before = (len(bpy.data.scenes), len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.cameras),
              len(bpy.data.worlds), scene_state())
    assert bpy.ops.jhod.render_maps(directory=str(tmp_path)) == {"FINISHED"}
    assert before == (len(bpy.data.scenes), len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.cameras),
                      len(bpy.data.worlds), scene_state())
    out = tmp_path / "frame_0007"
    for name in render.MAP_FILES:
        image = render.read_image(out / name)
        assert image.shape[:2] == (120, 160), name
    info = json.loads((out / "view.json").read_text())
    assert {o["kind"] for o in info["objects"]} == {"hand", "object"} and info["hands"] == ["right"]
    assert (out / "masks" / f"{cube.name}.png").exists()
    mask = render.read_image(out / "mask.png")
    pose = json.loads((out / "hand_pose.json").read_text())["people"][0]["hand_right_keypoints_2d"]
    uv = np.array(pose).reshape(21, 3)
    seen = uv[uv[:, 2] > 0, :2].round().astype(int)
    assert len(seen) > 10
    near_hand = [mask[max(0, v - 3):v + 4, max(0, u - 3):u + 4, 0].max() == 255 for u, v in seen]
    assert np.mean(near_hand) > 0.8  # the keypoints sit on the hand's pixels
    assert np.load(out / "depth.npy").max() < 1.0  # metres


def test_render_conditioning_maps_bad_input(addon, tmp_path):
    add_cube()
    with pytest.raises(RuntimeError, match="no active camera"):
        bpy.ops.jhod.render_maps(directory=str(tmp_path))
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    addon.scene.collection.objects.link(cam)
    addon.scene.camera = cam
    cam.data.type = "ORTHO"
    with pytest.raises(RuntimeError, match="perspective camera"):
        bpy.ops.jhod.render_maps(directory=str(tmp_path))
    cam.data.type = "PERSP"
    with pytest.raises(RuntimeError, match="Save the .blend file"):
        bpy.ops.jhod.render_maps(directory="//maps/")
    assert list(tmp_path.iterdir()) == []
