"""The Blender rig reproduces jhod_core's forward pass (real Blender: bpy from PyPI)."""

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")

from jhod_blender import rig  # noqa: E402
from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.hand.topology import JOINT_NAMES, PARENTS  # noqa: E402


@pytest.fixture()
def scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


@pytest.mark.parametrize("dressed", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_rig_matches_core_forward(scene, side, dressed):
    data = load_hand_data(side=side)
    arm, mesh = rig.build_hand(data, "hand", scene.collection, dressed=dressed)
    rng = np.random.default_rng(0)
    for trial in range(3):
        go, hp, tr = rng.normal(0, 0.6, 3), rng.normal(0, 0.4, 45), rng.normal(0, 0.1, 3)
        rig.apply_pose(arm, mesh, data, go, hp, tr)
        verts = rig.evaluated_vertices(mesh)
        expected = numpy_forward(data, go, hp, tr)[0][0]
        assert np.abs(verts - expected).max() < 1e-4
        got = rig.read_pose(arm, data)
        assert np.allclose(got[2], tr)
        # axis-angle is unique up to 2 pi: compare rotations via the forward pass
        again = numpy_forward(data, got[0], got[1], got[2])[0][0]
        assert np.abs(again - expected).max() < 1e-5


def test_rig_structure(scene):
    data = load_hand_data()
    arm, mesh = rig.build_hand(data, "hand", scene.collection)
    bones = arm.data.bones
    assert [b.name for b in bones] == list(JOINT_NAMES)
    for k, name in enumerate(JOINT_NAMES):
        parent = bones[name].parent
        assert (parent.name if parent else None) == (JOINT_NAMES[PARENTS[k]] if PARENTS[k] >= 0 else None)
        assert np.allclose(np.array(bones[name].head_local), data.rest_joints[k], atol=1e-6)
    assert sorted(g.name for g in mesh.vertex_groups) == sorted(JOINT_NAMES)
    assert mesh.parent == arm and mesh.modifiers["Armature"].object == arm
    assert not mesh.modifiers["Armature"].use_deform_preserve_volume
    assert len(mesh.data.vertices) == data.num_vertices


def test_scene_units(scene):
    """In a centimetre scene the rig is scaled so it still matches the core in metres."""
    scene.unit_settings.scale_length = 0.01
    data = load_hand_data()
    arm, mesh = rig.build_hand(data, "hand", scene.collection, meters_per_unit=0.01)
    go, hp, tr = np.array([0.2, -0.1, 0.3]), np.full(45, 0.1), np.array([0.05, 0.0, -0.02])
    rig.apply_pose(arm, mesh, data, go, hp, tr, meters_per_unit=0.01)
    verts_units = rig.evaluated_vertices(mesh)
    expected_m = numpy_forward(data, go, hp, tr)[0][0]
    assert np.abs(verts_units * 0.01 - expected_m).max() < 1e-6


def test_dressed_hand_is_ready_to_render(scene):
    """Smooth, subdivided after the skinning (viewport 1, render 2), the shared skin material, and a rounded
    forearm stub instead of the flat wrist cap, riding rigidly on the wrist."""
    data = load_hand_data()
    arm, mesh = rig.build_hand(data, "hand", scene.collection, dressed=True)
    arm2, mesh2 = rig.build_hand(data, "hand2", scene.collection, dressed=True)
    assert [m.type for m in mesh.modifiers] == ["ARMATURE", "SUBSURF"]
    subdivision = mesh.modifiers["Subdivision"]
    assert (subdivision.levels, subdivision.render_levels) == (1, 2)
    assert all(p.use_smooth for p in mesh.data.polygons)
    assert mesh.data.materials[0] is mesh2.data.materials[0] is bpy.data.materials[rig.SKIN_MATERIAL]
    bsdf = next(n for n in mesh.data.materials[0].node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Subsurface Weight"].default_value > 0
    stub = len(mesh.data.vertices) - data.num_vertices
    assert stub > 50 and mesh[rig.CORE_VERTICES_KEY] == data.num_vertices
    # the stub continues the wrist away from the fingers
    rest = np.array([v.co for v in mesh.data.vertices])
    axis = data.rest_joints[0] - data.rest_joints[4]
    assert ((rest[data.num_vertices:] - data.rest_joints[0]) @ axis).min() > \
        ((data.v_template - data.rest_joints[0]) @ axis).max() - 0.02
    go, hp, tr = np.array([0.3, -0.2, 0.5]), np.full(45, 0.15), np.array([0.01, 0.02, 0.03])
    rig.apply_pose(arm, mesh, data, go, hp, tr)
    assert subdivision.show_viewport  # reading the core's vertices leaves the dressing as it was
    depsgraph = bpy.context.evaluated_depsgraph_get()
    me = mesh.evaluated_get(depsgraph).to_mesh()
    posed = np.array([v.co for v in me.vertices])
    assert len(posed) > 3 * len(rest)  # subdivided in the viewport
    mesh.evaluated_get(depsgraph).to_mesh_clear()
    subdivision.show_viewport = False
    bpy.context.view_layer.update()
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world)
    posed = np.array([v.co for v in evaluated.to_mesh().vertices]) @ world[:3, :3].T + world[:3, 3]
    from jhod_core.hand.numpy_forward import rodrigues
    rot = rodrigues(go[None])[0]
    expected = (rest[data.num_vertices:] - data.rest_joints[0]) @ rot.T + data.rest_joints[0] + tr
    assert np.abs(posed[data.num_vertices:] - expected).max() < 1e-5  # rigid with the wrist
