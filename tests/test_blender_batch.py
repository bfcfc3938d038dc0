"""Headless batch rendering (jhod_blender/batch.py): files, map conventions, cameras, resume, errors (real bpy)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
trimesh = pytest.importorskip("trimesh")
Image = pytest.importorskip("PIL.Image")

from jhod_blender import batch, render  # noqa: E402
from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.hand.poses import named_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RES = 64
BOX = np.array([0.06, 0.08, 0.10])


def load(path):
    return np.array(Image.open(path))


def fist_next_to_box():
    data = load_hand_data()
    pose = named_pose("fist", data)
    verts = numpy_forward(data, np.zeros(3), pose, np.zeros(3))[0][0]
    # fist beside the +x face of the box, slightly overlapping it
    transl = np.array([BOX[0] / 2 + 0.035, 0.0, 0.0]) - (verts.min(0) + verts.max(0)) / 2
    return np.zeros(3), pose, transl


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch_inputs")
    trimesh.creation.box(extents=BOX).export(tmp / "box.ply")
    go, hp, tr = fist_next_to_box()
    np.savez(tmp / "grasps.npz", global_orient=go[None], hand_pose=hp[None], transl=tr[None])
    return tmp


def run_batch(inputs, out, *extra):
    return batch.main(["--objects", str(inputs / "box.ply"), "--grasps", str(inputs / "grasps.npz"), "--num", "1",
                       "--out", str(out), "--resolution", str(RES), "--engine", "BLENDER_WORKBENCH", *extra])


@pytest.fixture(scope="module")
def rendered(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out")
    assert run_batch(inputs, out) == 0
    return out


def view_dirs(out):
    return [out / "box" / "grasp_0" / f"view_{v}" for v in range(3)]


def test_all_files_written(rendered):
    manifest = json.loads((rendered / "box" / "manifest.json").read_text())
    assert manifest["settings"]["engine"] == "BLENDER_WORKBENCH" and manifest["settings"]["resolution"] == RES
    assert len(manifest["grasps"]) == 1 and len(manifest["grasps"][0]["views"]) == 3
    for d in view_dirs(rendered):
        for name in batch.VIEW_FILES + ("view.json",):
            assert (d / name).is_file(), d / name
        assert not d.with_name(d.name + ".partial").exists()
        for name in render.MAP_FILES:
            img = load(d / name)
            assert img.shape[:2] == (RES, RES), name
        assert load(d / "depth.png").max() == 255
        assert load(d / "edges.png").max() == 255
        assert (load(d / "normal.png") != (128, 128, 255)).any(axis=-1).sum() > 100
        rgb = load(d / "rgb.png")
        assert rgb.std() > 10  # not a blank image
        assert np.load(d / "depth.npy").dtype == np.float32


def test_mask_matches_depth_foreground(rendered):
    for d in view_dirs(rendered):
        mask, depth_png, depth = load(d / "mask.png"), load(d / "depth.png"), np.load(d / "depth.npy")
        hand, obj = mask[..., 0] == 255, mask[..., 1] == 255
        assert hand.sum() > 20 and obj.sum() > 20
        assert not (hand & obj).any() and (mask[..., 2] == 0).all()
        fg = hand | obj
        assert np.array_equal(fg, depth_png > 0) and np.array_equal(fg, depth > 0)
        assert depth_png[fg].min() >= 26  # farthest foreground is 10 %, background 0
        # the anti-aliased colour image agrees within one pixel at the edges
        rgb = load(d / "rgb.png")[..., :3].astype(int)
        rgb_fg = np.abs(rgb - rgb[0, 0]).sum(-1) > 6
        grown = fg.copy()
        grown[1:] |= fg[:-1]
        grown[:-1] |= fg[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        assert not (rgb_fg & ~grown).any()
        assert (fg & ~rgb_fg).sum() <= 0.05 * fg.sum()


def test_depth_near_is_white(rendered):
    for d in view_dirs(rendered):
        depth_png, depth = load(d / "depth.png").astype(int), np.load(d / "depth.npy")
        fg = depth > 0
        near, far = np.unravel_index(np.where(fg, depth, np.inf).argmin(), depth.shape), \
            np.unravel_index(np.where(fg, depth, -np.inf).argmax(), depth.shape)
        assert depth_png[near] == 255 and depth_png[far] == 26
        # monotonic: nearer pixels are brighter
        z, v = depth[fg], depth_png[fg]
        order = np.argsort(z)
        assert (np.diff(v[order]) <= 0).all()


def test_manifest_cameras_reproject(rendered):
    manifest = json.loads((rendered / "box" / "manifest.json").read_text())
    grasp = manifest["grasps"][0]
    data = load_hand_data()
    hand = numpy_forward(data, np.array(grasp["global_orient"]), np.array(grasp["hand_pose"]),
                         np.array(grasp["transl"]))[0][0]
    go, hp, tr = fist_next_to_box()
    assert np.allclose(grasp["hand_pose"], hp, atol=1e-6) and np.allclose(grasp["transl"], tr, atol=1e-7)
    for view in grasp["views"]:
        d = rendered / "box" / view["dir"]
        K, w2c = np.array(view["K"]), np.array(view["world_to_camera_opencv"])
        assert np.allclose(w2c, np.diag([1, -1, -1, 1]) @ np.array(view["world_to_camera_blender"]))
        assert np.allclose(np.linalg.inv(w2c), np.array(view["camera_to_world_blender"]) @ np.diag([1, -1, -1, 1]),
                           atol=1e-6)
        # the view target (hand-object centre) lands on the image centre
        uv, _ = render.project(np.array(view["target"]), K, w2c)
        assert np.allclose(uv, (RES - 1) / 2, atol=1e-6)
        # each map pixel, lifted with depth.npy and K, lies on the surface it is labelled with
        mask, depth = load(d / "mask.png"), np.load(d / "depth.npy")
        v_idx, u_idx = np.nonzero(depth > 0)
        z = depth[v_idx, u_idx].astype(np.float64)
        cam = np.stack([(u_idx - K[0, 2]) / K[0, 0] * z, (v_idx - K[1, 2]) / K[1, 1] * z, z], axis=1)
        world = (cam - w2c[:3, 3]) @ w2c[:3, :3]
        on_obj = mask[v_idx, u_idx, 1] == 255
        box_distance = np.abs(np.abs(world[on_obj]) - BOX / 2).min(axis=1)  # distance to the nearest face plane
        inside = (np.abs(world[on_obj]) <= BOX / 2 + 1e-3).all(axis=1)
        assert inside.all() and box_distance.max() < 1e-3
        hand_distance = trimesh.Trimesh(hand, data.closed_faces, process=False).nearest.on_surface(world[~on_obj])[1]
        assert hand_distance.max() < 1e-3
        # and the projected hand vertices cover the hand mask
        uv, _ = render.project(hand, K, w2c)
        lo, hi = uv.min(0) - 1, uv.max(0) + 1
        assert lo[0] <= u_idx[~on_obj].min() and u_idx[~on_obj].max() <= hi[0]
        assert lo[1] <= v_idx[~on_obj].min() and v_idx[~on_obj].max() <= hi[1]


@pytest.mark.parametrize("engine", render.ENGINES)
def test_sphere_normals_and_intrinsics(engine, tmp_path):
    """A sphere in front of the camera: normalbae colours, metric depth and silhouette match the analytic sphere."""
    res, radius = 48, 0.05
    scene = render.reset_scene(engine, res)
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    obj = render.add_mesh_object(scene, "sphere", sphere.vertices, sphere.faces, sharp_angle_deg=None)
    view = render.orbit_views(np.zeros(3), 0.08, 3, 20.0, 15.0)[0]
    cam = render.place_camera(scene, view)
    data = render.render_data(scene, cam, [obj], tmp_path, view["distance_m"])
    assert data["coverage_mismatch"] == 0
    K, w2c = render.intrinsics(scene, cam), render.extrinsics(cam)["world_to_camera_opencv"]
    # analytic ray casting through pixel centres
    u, v = np.meshgrid(np.arange(res), np.arange(res))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((res, res))], axis=-1)
    c = w2c[:3, 3]
    a, b, q = (rays ** 2).sum(-1), -2 * rays @ c, c @ c - radius ** 2
    disc = b * b - 4 * a * q
    hit = disc > 0
    t = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), 0.0)
    fg = data["labels"] > 0
    assert (fg != hit).sum() <= 2  # silhouette agrees: K's pixel-centre convention is right
    both = fg & hit
    assert np.abs(data["depth"][both] - t[both]).max() < 2e-3
    assert np.median(np.abs(data["depth"][both] - t[both])) < 1e-4
    normal_cv = (rays * t[..., None] - c) / radius
    normal_blender = normal_cv * np.array([1.0, -1.0, -1.0])
    encoded = render.encode_normals(data["normals"], data["labels"])
    angle = np.degrees(np.arccos(np.clip((render.decode_normals(encoded) * normal_blender).sum(-1), -1, 1)))
    assert np.median(angle[both]) < 1.5 and np.percentile(angle[both], 95) < 4
    # the encoding itself: facing the camera = (128, 128, 255), left rim red, top rim green
    centre = res // 2
    assert np.abs(encoded[centre, centre].astype(int) - (128, 128, 255)).max() <= 6
    row, col = fg[centre], fg[:, centre]
    left, top = encoded[centre, row.argmax()], encoded[col.argmax(), centre]
    assert left[0] > 200 and abs(int(left[1]) - 128) < 40
    assert top[1] > 200 and abs(int(top[0]) - 128) < 40
    assert (encoded[~fg] == (128, 128, 255)).all()


def test_resume_skips_finished_views(inputs, rendered, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered, out)  # copy2 keeps mtimes
    files = sorted(p for p in out.rglob("*") if p.is_file())
    before = {p: p.stat().st_mtime_ns for p in files}
    assert run_batch(inputs, out) == 0
    assert {p: p.stat().st_mtime_ns for p in files} == before
    # delete one view's files, and the completion marker of another (as if killed before it was written)
    v0, v1, v2 = view_dirs(out)
    for p in v1.iterdir():
        p.unlink()
    (v2 / "view.json").unlink()
    assert run_batch(inputs, out) == 0
    for p in files:
        if p.parent == v0:
            assert p.stat().st_mtime_ns == before[p], p
    for d in (v1, v2):
        assert all((d / name).is_file() for name in batch.VIEW_FILES + ("view.json",))
    assert (v2 / "rgb.png").stat().st_mtime_ns != before[v2 / "rgb.png"]
    manifest = json.loads((out / "box" / "manifest.json").read_text())
    assert [v["view"] for v in manifest["grasps"][0]["views"]] == [0, 1, 2]


def test_changed_settings_stop_unless_forced(inputs, rendered, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    assert run_batch(inputs, out, "--elevation", "45") == 2
    assert "--force" in capsys.readouterr().err


def test_missing_weights_fail_cleanly(inputs, tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, str(ROOT / "jhod_blender" / "batch.py"), "--objects",
                           str(inputs / "box.ply"), "--num", "2", "--out", str(out),
                           "--weights", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "model weights folder not found" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


def test_without_bpy_says_how_to_run_it(tmp_path):
    code = ("import sys, runpy; sys.modules['bpy'] = None; sys.argv = ['batch.py', '--help']; "
            f"runpy.run_path({str(ROOT / 'jhod_blender' / 'batch.py')!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "blender -b --python jhod_blender/batch.py" in proc.stderr and "pip install bpy==5.0.1" in proc.stderr


def test_bad_inputs_are_reported(inputs, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.ply"
    corrupt.write_bytes(b"ply\nthis is not a mesh\n\x00\x01")
    points = tmp_path / "points.ply"
    trimesh.PointCloud(np.random.default_rng(0).normal(size=(20, 3)) * 0.05).export(points)
    huge = tmp_path / "huge.ply"
    trimesh.creation.box(extents=(2.0, 1.5, 1.0)).export(huge)
    out = tmp_path / "out"
    rc = batch.main(["--objects", str(corrupt), str(points), str(huge), str(tmp_path / "missing.ply"),
                     "--grasps", str(inputs / "grasps.npz"), "--out", str(out), "--resolution", "32"])
    text = capsys.readouterr().out
    assert rc == 1
    assert "corrupt] skipped: cannot read mesh file" in text
    assert "points] skipped:" in text and "no faces" in text
    assert "huge] skipped: object is 2 m across" in text
    assert "missing] skipped: mesh file not found" in text
    assert not any(p.is_dir() for p in out.iterdir())
    # a broken grasp source stops before anything is written
    bad = tmp_path / "bad.npz"
    np.savez(bad, global_orient=np.zeros((2, 3)), hand_pose=np.zeros((2, 40)), transl=np.zeros((2, 3)))
    assert batch.main(["--objects", str(inputs / "box.ply"), "--grasps", str(bad), "--out", str(tmp_path / "o2")]) == 2
    assert "hand_pose has shape (2, 40), expected (2, 45)" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


def test_dataset_folder_source(tmp_path):
    """--grasps DIR reads dataset shards (jhod_core.io.grasp_shards) and keeps the object's first grasps."""
    from jhod_core.io.grasp_shards import save_shard

    (tmp_path / "shards").mkdir()
    rng = np.random.default_rng(0)
    records = [dict(object_id=oid, global_orient=rng.normal(size=3), transl=rng.normal(size=3) * 0.05,
                    hand_pose=rng.normal(size=45) * 0.1, keypoints=np.zeros((21, 3)), kind="power",
                    digits_in_contact=["thumb"], penetration_depth_cm=0.1, intersection_volume_cm3=0.1,
                    sim_displacement_6dir_cm=0.1, limit_violation_deg=0.0)
               for oid in ["mug", "box", "mug", "mug", "box"]]
    save_shard(tmp_path / "shards" / "shard_00000.npz", records, [], [], seed=0)
    got = batch.grasps_for_object(tmp_path, "mug", num=2, seed=3)
    assert list(got["source_index"]) == [0, 2]
    assert np.array_equal(got["sample_seed"], batch.grasps_for_object(tmp_path, "mug", num=2, seed=3)["sample_seed"])
    other_seed = batch.grasps_for_object(tmp_path, "mug", num=2, seed=4)
    assert not np.array_equal(got["sample_seed"], other_seed["sample_seed"])
    assert np.allclose(got["transl"], [records[i]["transl"] for i in got["source_index"]], atol=1e-6)
    assert len(batch.grasps_for_object(tmp_path, "box", num=5, seed=0)["transl"]) == 2
    assert len(batch.grasps_for_object(tmp_path, "cup", num=5, seed=0)["transl"]) == 0
    # without --grasps the model samples them: same seed, same grasps (a resumed run renders the same hands)
    from tests.tiny_model import write_tiny_weights

    (tmp_path / "w").mkdir()
    weights = write_tiny_weights(tmp_path / "w")
    box = trimesh.creation.box(extents=(0.06, 0.04, 0.1))
    mesh = (np.asarray(box.vertices), np.asarray(box.faces))
    sampled = batch.grasps_for_object(None, "box", num=2, seed=3, mesh=mesh, weights=weights, steps=3)
    again = batch.grasps_for_object(None, "box", num=2, seed=3, mesh=mesh, weights=weights, steps=3)
    assert sampled["transl"].shape == (2, 3) and np.array_equal(sampled["hand_pose"], again["hand_pose"])
    assert set(sampled["sample_seed"]) == {3}
    # ... and the grasps `jhod sample` / sample_grasps make on that mesh with that seed (one pipeline)
    from jhod_core.sample import sample_grasps

    api = sample_grasps(box, 2, seed=3, steps=3, weights_dir=weights, candidates=3)
    assert np.abs(api["transl"] - sampled["transl"]).max() < 1e-4
    assert np.abs(api["hand_pose"] - sampled["hand_pose"]).max() < 1e-4
    one = batch.grasps_for_object(None, "box", num=1, seed=3, mesh=mesh, weights=weights, steps=3)
    assert np.abs(one["transl"][0] - sampled["transl"][0]).max() < 1e-5  # grasp 0 does not depend on --num


def test_blender_importer_fallback_matches_trimesh(inputs, tmp_path):
    """Inside Blender's own Python (no trimesh) meshes load through Blender's importers, coordinates unchanged."""
    mesh = trimesh.load(inputs / "box.ply", process=False)
    for suffix in (".ply", ".obj", ".stl"):
        path = tmp_path / f"box{suffix}"
        mesh.export(path)
        vertices, faces, _ = batch._load_object_with_blender(path)
        assert len(faces) == len(mesh.faces)
        assert np.allclose(np.unique(vertices.round(6), axis=0), np.unique(np.asarray(mesh.vertices).round(6), axis=0))
    corrupt = tmp_path / "corrupt.ply"
    corrupt.write_text("not a ply file")
    with pytest.raises(batch_errors(), match="cannot read mesh file"):
        batch._load_object_with_blender(corrupt)


def batch_errors():
    from jhod_blender.core import JHODError

    return JHODError


def test_joint_mode_generates_objects_and_renders_them(tmp_path):
    from tests.tiny_model import write_tiny_weights

    (tmp_path / "w").mkdir()
    weights = write_tiny_weights(tmp_path / "w")
    out = tmp_path / "joint"
    argv = ["--joint", "--num", "1", "--views", "1", "--resolution", "32", "--engine", "BLENDER_WORKBENCH",
            "--weights", str(weights), "--steps", "3", "--out", str(out)]
    assert batch.main(argv) == 0
    ply = out / "generated" / "joint_0_000.ply"
    mesh = trimesh.load(ply, process=False)
    assert mesh.is_watertight and len(mesh.faces) > 100
    view = out / "joint_0_000" / "grasp_0" / "view_0"
    assert all((view / name).is_file() for name in batch.VIEW_FILES)
    before = ply.stat().st_mtime_ns
    assert batch.main(argv) == 0  # resumed: nothing regenerated or re-rendered
    assert ply.stat().st_mtime_ns == before
    assert batch.main(["--joint", "--objects", str(ply), "--out", str(out)]) == 2
