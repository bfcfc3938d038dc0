"""Generate Grasp on Selection (jhod.generate_grasp), grasp browsing, and the external worker CLI,
with tiny random-weight models (as in test_sample.py): only the contract is checked, not grasp quality."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
torch = pytest.importorskip("torch")

from jhod_blender import backend, rig  # noqa: E402
from jhod_core.errors import JHODError  # noqa: E402
from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEPS = 3  # conftest.ADDON_STEPS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def add_cube(size_units=0.08, location=(0.2, -0.1, 0.05)):
    bpy.ops.mesh.primitive_cube_add(size=size_units, location=location)
    cube = bpy.context.active_object
    cube.rotation_euler = (0.3, 0.0, 0.5)
    cube.select_set(True)
    return cube


def mesh_coords(obj):
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def counts():
    return len(bpy.data.objects), len(bpy.data.collections)


def check_hands(meters_per_unit, side="right"):
    data = load_hand_data(side=side)
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert len(arms) == 2
    for arm in arms:
        assert len(arm.data.bones) == 16 and arm["jhod_seed"] == 3
        go, hp, tr = (np.array(arm[k]) for k in ("jhod_global_orient", "jhod_hand_pose", "jhod_transl"))
        skin = next(c for c in arm.children if c.type == "MESH")
        verts_m = rig.evaluated_vertices(skin) * meters_per_unit
        expected = numpy_forward(data, go, hp, tr)[0][0]
        assert np.abs(verts_m - expected).max() < 1e-4
    return arms


def test_generate_two_grasps_on_cube(addon):
    cube = add_cube()
    cube.modifiers.new("bevel", "BEVEL")  # the evaluated mesh is sampled; the mesh itself stays as it is
    before = mesh_coords(cube)
    n_vertices = len(cube.data.vertices)
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    np.testing.assert_array_equal(mesh_coords(cube), before)
    assert len(cube.data.vertices) == n_vertices and list(cube.modifiers.keys()) == ["bevel"]
    parent = bpy.data.collections[f"JHOD grasps on {cube.name}"]
    names = [f"Grasp 1 - {parent.name}", f"Grasp 2 - {parent.name}"]
    assert sorted(c.name for c in parent.children) == names
    arms = check_hands(1.0)
    # the hands sit near the object (translation comes back in the world frame, not centred)
    assert all(np.linalg.norm(np.array(a["jhod_transl"]) - np.array(cube.location)) < 1.0 for a in arms)

    # browsing: show one at a time, then keep the shown one
    g1, g2 = bpy.data.collections[names[0]], bpy.data.collections[names[1]]
    assert bpy.ops.jhod.show_grasp(direction=1) == {"FINISHED"}
    assert (g1.hide_viewport, g2.hide_viewport, g2.hide_render) == (False, True, True)
    assert bpy.ops.jhod.show_grasp(direction=1) == {"FINISHED"}
    assert (g1.hide_viewport, g2.hide_viewport) == (True, False)
    assert bpy.ops.jhod.show_grasp(direction=-1) == {"FINISHED"}
    assert (g1.hide_viewport, g2.hide_viewport) == (False, True)
    objects = len(bpy.data.objects)
    assert bpy.ops.jhod.keep_grasp() == {"FINISHED"}
    assert [c.name for c in parent.children] == names[:1] and not g1.hide_viewport
    assert len(bpy.data.objects) == objects - 2 and names[1] not in bpy.data.collections


def test_same_seed_gives_the_grasps_of_jhod_sample(addon, weights, tmp_path):
    """One pipeline: the operator's grasps are those `jhod sample` makes on the same mesh with the same seed."""
    import trimesh

    from jhod_blender import selection
    from jhod_core.cli import main as jhod

    cube = add_cube()
    addon.scene.jhod.candidates = 3
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    arms = sorted((o for o in bpy.data.objects if o.type == "ARMATURE"), key=lambda o: o["jhod_grasp_index"])
    bpy.ops.object.select_all(action="DESELECT")
    cube.select_set(True)
    vertices, triangles, _ = selection.selection_mesh(bpy.context, 1.0)
    trimesh.Trimesh(vertices, triangles, process=False).export(tmp_path / "cube.ply")
    assert jhod(["sample", str(tmp_path / "cube.ply"), "--num", "2", "--seed", "3", "--steps", str(STEPS),
                 "--candidates", "3", "--weights", str(weights), "--out", str(tmp_path / "out")]) == 0
    with np.load(tmp_path / "out" / "grasps.npz") as cli:
        for key in ("global_orient", "hand_pose", "transl"):
            assert np.abs(np.array([a[f"jhod_{key}"] for a in arms]) - cli[key]).max() < 1e-4, key
    # grasp 1 of seed 3 is the same when only one is asked for
    addon.scene.jhod.num_grasps = 1
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    newest = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.users_collection[0].name.endswith("(2)"))
    with np.load(tmp_path / "out" / "grasps.npz") as cli:
        assert np.abs(np.array(newest["jhod_transl"]) - cli["transl"][0]).max() < 1e-4


def test_generating_again_names_collections_without_suffixes(addon):
    add_cube()
    for _ in range(2):
        assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
        bpy.ops.object.select_all(action="DESELECT")
        bpy.data.objects["Cube"].select_set(True)
    names = sorted(c.name for c in bpy.data.collections)
    assert names == ["Grasp 1 - JHOD grasps on Cube", "Grasp 1 - JHOD grasps on Cube (2)",
                     "Grasp 2 - JHOD grasps on Cube", "Grasp 2 - JHOD grasps on Cube (2)", "JHOD grasps on Cube",
                     "JHOD grasps on Cube (2)"]


def test_sample_hand_object(addon):
    import bmesh

    before = counts()
    assert bpy.ops.jhod.sample_hand_object() == {"FINISHED"}
    check_hands(1.0)
    parent = next(c for c in bpy.data.collections if c.name == "JHOD hand+object samples (seed 3)")
    assert sorted(c.name for c in parent.children) == [f"Grasp 1 - {parent.name}", f"Grasp 2 - {parent.name}"]
    for k, collection in enumerate(sorted(parent.children, key=lambda c: c.name)):
        obj = next(o for o in collection.objects if o.get("jhod_generated_object"))
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        assert len(bm.faces) > 100 and all(e.is_manifold for e in bm.edges)  # a closed surface
        bm.free()
        assert abs(obj.location.x - k * 0.35) < 1e-6
        assert obj.name == f"JHOD object {k + 1} (seed 3)" and obj.data.materials[0].name == "JHOD Object"
        assert all(p.use_smooth for p in obj.data.polygons)
    # no helper objects or node groups are left behind
    assert not any(o.name.endswith(" points") for o in bpy.data.objects) and len(bpy.data.node_groups) == 0
    assert counts()[0] == before[0] + 2 * 3  # per pair: object, armature, hand mesh


def _pairs():
    """(object vertices, hand vertices) of each sampled pair, in the object's own frame (metres)."""
    out = []
    for arm in sorted((o for o in bpy.data.objects if o.type == "ARMATURE"), key=lambda o: o.name):
        obj = next(o for o in arm.users_collection[0].objects if o.get("jhod_generated_object"))
        skin = next(c for c in arm.children if c.type == "MESH")
        origin = np.array(obj.location)
        out.append((np.array([v.co for v in obj.data.vertices]), rig.evaluated_vertices(skin) - origin))
    return out


def test_sample_hand_object_left_is_the_mirror_image(addon):
    right = _pairs() if bpy.ops.jhod.sample_hand_object() == {"FINISHED"} else None
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for collection in list(bpy.data.collections):
        bpy.data.collections.remove(collection)
    addon.scene.jhod.side = "left"
    assert bpy.ops.jhod.sample_hand_object() == {"FINISHED"}
    check_hands(1.0, side="left")
    flip = np.array([-1.0, 1.0, 1.0])
    for (obj_r, hand_r), (obj_l, hand_l) in zip(right, _pairs()):
        # the object is surfaced from mirrored points: its bounds mirror (to the voxel size)
        np.testing.assert_allclose(obj_l.min(0), (obj_r * flip).min(0), atol=0.004)
        np.testing.assert_allclose(obj_l.max(0), (obj_r * flip).max(0), atol=0.004)
        # and the hand holds it as the right hand holds the right object (refined on nearly the same surface)
        assert np.abs(np.median(hand_l * flip - hand_r, axis=0)).max() < 0.01  # unmirrored: ~10 cm


def test_left_hand_grasps(addon):
    add_cube()
    addon.scene.jhod.side = "left"
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    check_hands(1.0, side="left")  # the rig of the left model matches the core's left forward


def test_centimetre_scene(addon):
    addon.scene.unit_settings.scale_length = 0.01
    cube = add_cube(size_units=8.0, location=(20.0, -10.0, 5.0))  # 8 cm cube in a centimetre scene
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    arms = check_hands(0.01)
    assert all(np.linalg.norm(np.array(a["jhod_transl"]) - np.array(cube.location) * 0.01) < 1.0 for a in arms)


def test_selection_mesh_merge_and_units(addon):
    from jhod_blender import selection

    a = add_cube(location=(0.0, 0.0, 0.0))
    b = add_cube(location=(0.3, 0.0, 0.0))
    a.select_set(True)
    vertices, triangles, meshes = selection.selection_mesh(bpy.context, 1.0)
    assert {m.name for m in meshes} == {a.name, b.name} and triangles.shape == (24, 3)
    assert (vertices[:, 0] < 0.1).any() and (vertices[:, 0] > 0.2).any() and triangles.max() < len(vertices)
    # outward winding: each triangle's normal points away from its cube's centre
    tri = vertices[triangles]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centres = np.where(tri.mean(1)[:, :1] < 0.15, 0.0, 0.3) * np.array([1.0, 0.0, 0.0])
    assert (np.einsum("ni,ni->n", tri.mean(1) - centres, normals) > 0).all()
    cm, _, _ = selection.selection_mesh(bpy.context, 0.5)
    np.testing.assert_allclose(cm, vertices * 0.5)


def _expect_error(match):
    before = counts()
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.jhod.generate_grasp()
    assert counts() == before


def test_bad_inputs_change_nothing(addon, tmp_path):
    _expect_error("Nothing is selected")

    bpy.ops.object.camera_add()
    _expect_error("No mesh among the selected")

    bpy.ops.object.select_all(action="DESELECT")
    me = bpy.data.meshes.new("edges")
    me.from_pydata([(0, 0, 0), (0.1, 0, 0), (0, 0.1, 0)], [(0, 1), (1, 2)], [])
    obj = bpy.data.objects.new("edges", me)
    addon.scene.collection.objects.link(obj)
    obj.select_set(True)
    _expect_error("has no faces")

    bpy.ops.object.select_all(action="DESELECT")
    add_cube(size_units=5.0)
    _expect_error("m across")

    bpy.ops.object.select_all(action="DESELECT")
    bpy.ops.mesh.primitive_plane_add(size=0.1)  # an open sheet: no volume to hold
    _expect_error("thick")

    bpy.ops.object.select_all(action="DESELECT")
    add_cube()
    addon.prefs.checkpoint_path = str(tmp_path)  # empty folder
    _expect_error("model weights missing")
    addon.prefs.checkpoint_path = str(tmp_path / "nope")
    _expect_error("weights folder not found")
    addon.prefs.checkpoint_path = ""
    addon.prefs.backend = "EXTERNAL"
    addon.prefs.python_path = str(tmp_path / "no_python")
    _expect_error("External Python not found")


# --------------------------------------------------------------------------- worker / external backend

def _cube_points():
    rng = np.random.default_rng(0)
    return rng.random((500, 3)) * 0.06 + (0.2, -0.1, 0.05)


def _cube_mesh():
    import trimesh

    box = trimesh.creation.box(extents=(0.06, 0.06, 0.06))
    return np.asarray(box.vertices) + (0.2, -0.1, 0.05), np.asarray(box.faces)


def _run_worker(tmp_path, weights_dir):
    in_path, out_path = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(in_path, points=_cube_points(), num=2, seed=1, steps=STEPS, device="cpu", weights_dir=str(weights_dir))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "jhod_core.worker", str(in_path), str(out_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    return proc, np.load(out_path)


def test_worker_cli(tmp_path, weights):
    proc, out = _run_worker(tmp_path, weights)
    assert proc.returncode == 0, proc.stderr
    assert out["global_orient"].shape == (2, 3) and out["hand_pose"].shape == (2, 45)
    assert out["transl"].shape == (2, 3) and out["keypoints"].shape == (2, 21, 3) and "error" not in out
    from jhod_core.sample import sample_grasps

    ref = sample_grasps(_cube_points(), 2, seed=1, steps=STEPS, device="cpu", weights_dir=weights)
    np.testing.assert_allclose(out["transl"], ref["transl"], atol=1e-5)

    proc, out = _run_worker(tmp_path, tmp_path / "missing")
    assert proc.returncode == 1 and "weights folder not found" in str(out["error"])


def test_external_backend(tmp_path, weights, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    prefs = SimpleNamespace(backend="EXTERNAL", python_path=sys.executable, checkpoint_path=str(weights))
    r = backend.run_sampler(_cube_mesh(), 2, 1, STEPS, prefs)
    assert r["transl"].shape == (2, 3) and r["keypoints"].shape == (2, 21, 3)
    # the same grasps as the built-in backend (torch there, NumPy here: one pipeline)
    prefs_numpy = SimpleNamespace(backend="NUMPY", python_path="", checkpoint_path=str(weights))
    assert np.abs(backend.run_sampler(_cube_mesh(), 2, 1, STEPS, prefs_numpy)["transl"] - r["transl"]).max() < 1e-4
    prefs.checkpoint_path = str(tmp_path)
    with pytest.raises(JHODError, match="worker failed: model weights missing"):
        backend.run_sampler(_cube_mesh(), 2, 1, STEPS, prefs)


def test_sampling_jobs_step_and_cancel(tmp_path, weights, monkeypatch):
    """What the modal operators drive: progress rises step by step; cancelling stops the model loop or
    kills the worker process (Esc in the UI)."""
    import time

    prefs = SimpleNamespace(backend="NUMPY", python_path="", checkpoint_path=str(weights))
    job = backend.start_sampler(_cube_mesh(), 2, 1, 6, prefs)
    fractions = []
    while not job.step():
        fractions.append(job.fraction)
    assert len(fractions) >= 6 and fractions == sorted(fractions) and fractions[-1] <= 1.0
    assert job.result["transl"].shape == (2, 3) and job.fraction == 1.0
    job = backend.start_sampler(_cube_mesh(), 2, 1, 6, prefs)
    job.step()
    job.cancel()
    with pytest.raises(StopIteration):
        next(job._steps)

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    prefs = SimpleNamespace(backend="EXTERNAL", python_path=sys.executable, checkpoint_path=str(weights))
    job = backend.start_sampler(_cube_mesh(), 2, 1, STEPS, prefs)
    job.step()  # the worker is running now
    t = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t < 5.0
