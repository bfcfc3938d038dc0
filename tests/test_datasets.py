"""Dataset adapters (jhod convert): fixtures written in each dataset's published layout, converted, and checked to
reproduce the fixture's hand vertices through the real-MANO path (a synthetic MANO pair of MANO's exact structure:
778 vertices, PCA components, mean pose, a MANO_LEFT with the known shape-direction sign quirk)."""

import json
import pickle

import numpy as np
import trimesh
import yaml

from jhod_core.cli import main
from jhod_core.hand import load_hand_data
from jhod_core.hand.numpy_forward import forward, rodrigues
from jhod_core.hand.rigid import rest_wrist, transform_params
from training.data.corpus import load_manifest, load_object_mesh
from training.data.grasps import load_grasps

from tests.mano_fixture import MIRROR, synthetic_mano  # noqa: F401  (MIRROR used below)


def random_rotation(rng):
    return rodrigues(rng.normal(size=(1, 3)))[0]


def write_dexycb(root, mano, rng):
    """A two-sequence DexYCB fixture (one right, one left hand); returns, per sequence, what the last frame shows:
    (side, hand vertices in the camera frame, object rotation, object translation)."""
    (root / "calibration" / "mano_calib_a").mkdir(parents=True)
    betas = rng.normal(size=10).round(4)
    (root / "calibration" / "mano_calib_a" / "mano.yml").write_text(yaml.safe_dump({"betas": betas.tolist()}))
    for name, extents in (("025_mug", (0.08, 0.09, 0.1)), ("003_cracker_box", (0.06, 0.16, 0.21))):
        (root / "models" / name).mkdir(parents=True)
        box = trimesh.creation.box(extents)
        box.apply_translation((0.01, -0.02, 0.05))  # not centred, like the YCB models
        box.export(root / "models" / name / "textured_simple.obj")
    truth = []
    for k, side in enumerate(("right", "left")):
        seq = root / "20200709-subject-01" / f"20200709_14175{k}"
        cam = seq / "836212060125"
        cam.mkdir(parents=True)
        meta = {"num_frames": 3, "ycb_ids": [2, 14], "ycb_grasp_ind": 1, "mano_sides": [side],
                "mano_calib": ["calib_a"], "serials": ["836212060125"]}
        (seq / "meta.yml").write_text(yaml.safe_dump(meta))
        go, pca, tr = rng.normal(0, 0.7, 3), rng.normal(0, 0.8, 45), rng.normal(0, 0.1, 3) + [0, 0, 0.6]
        pose_y = np.zeros((2, 3, 4))
        for o in range(2):
            pose_y[o, :, :3], pose_y[o, :, 3] = random_rotation(rng), rng.normal(0, 0.1, 3) + [0, 0, 0.6]
        data = load_hand_data(mano, side)
        verts, _, _ = forward(data, go[None], (pca @ data.hands_components)[None], tr[None], betas=betas[None],
                              flat_hand_mean=False)
        for f in range(3):  # earlier frames: the hand elsewhere (only the last one is the grasp)
            pm = np.concatenate([go, pca, tr]) if f == 2 else np.zeros(51)
            np.savez(cam / f"labels_{f:06d}.npz", pose_m=pm[None], pose_y=pose_y, seg=np.zeros((4, 4), np.uint8))
        truth.append((side, verts[0], pose_y[1, :, :3], pose_y[1, :, 3]))
    return truth


def test_dexycb_grasps_reproduce_the_hands_through_real_mano(tmp_path):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src, out = tmp_path / "dexycb", tmp_path / "converted"
    truth = write_dexycb(src, mano, np.random.default_rng(3))
    assert main(["convert", "--from", "dexycb", str(src), "--out", str(out), "--mano", str(mano)]) == 0
    grasps = load_grasps(out / "grasps")
    rows = {r["id"]: r for r in load_manifest(out / "objects")}
    assert set(rows) == {"dexycb_025_mug", "dexycb_025_mug_mirrored"}
    assert all("CC BY-NC" in r["licence"] for r in rows.values())
    right = load_hand_data(mano, "right")
    for k, (side, expected, rotation, translation) in enumerate(truth):
        object_id = "dexycb_025_mug" + ("_mirrored" if side == "left" else "")
        assert grasps["object_id"][k] == object_id and grasps["source"][k] == "dexycb"
        verts, _, _ = forward(right, grasps["global_orient"][k][None].astype(np.float64),
                              grasps["hand_pose"][k][None].astype(np.float64),
                              grasps["transl"][k][None].astype(np.float64),
                              betas=grasps["betas"][k][None].astype(np.float64))
        mesh = load_object_mesh(out / "objects", object_id)
        original = trimesh.load(src / "models" / "025_mug" / "textured_simple.obj", force="mesh")
        source = original.vertices * (MIRROR if side == "left" else 1.0)
        centre = (source.min(0) + source.max(0)) / 2  # the corpus frame is the bounding-box centre
        np.testing.assert_allclose(mesh.bounds.mean(0), 0.0, atol=1e-9)
        in_object = verts[0] + centre
        if side == "left":
            in_object = in_object * MIRROR  # the right hand on the mirrored mug is the left hand on the mug
        in_camera = in_object @ rotation.T + translation
        assert np.abs(in_camera - expected).max() < 1e-5, (side, np.abs(in_camera - expected).max())


def test_convert_bad_input_writes_nothing(tmp_path, capsys):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src = tmp_path / "dexycb"
    write_dexycb(src, mano, np.random.default_rng(0))
    out = tmp_path / "out"
    cases = [(["--from", "dexycb", str(tmp_path / "mano"), "--out", str(out), "--mano", str(mano)],
              "does not look like DexYCB"),
             (["--from", "grabby", str(src), "--out", str(out)], "unknown dataset"),
             (["--from", "dexycb", str(src / "nope"), "--out", str(out)], "is not a folder"),
             (["--from", "dexycb", str(src), "--out", str(out), "--mano", str(tmp_path / "missing")],
              "MANO")]
    for argv, pattern in cases:
        assert main(["convert", *argv]) == 1
        err = capsys.readouterr().err
        assert pattern in err and err.count("\n") == 1, err
        assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("x")
    assert main(["convert", "--from", "dexycb", str(src), "--out", str(out), "--mano", str(mano)]) == 1
    assert "not empty" in capsys.readouterr().err and sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_left_mano_quirk_is_fixed_so_mirrored_left_hands_are_right_hands(tmp_path):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    right, left = load_hand_data(mano, "right"), load_hand_data(mano, "left")
    rng = np.random.default_rng(1)
    betas, go, hp, tr = rng.normal(size=10), rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 45), rng.normal(0, 0.1, 3)
    from training.datasets.common import mirror_to_right

    left_verts = forward(left, go[None], hp[None], tr[None], betas=betas[None])[0][0]
    rgo, rhp, rtr = mirror_to_right(go, hp, tr, betas, left, right)
    right_verts = forward(right, rgo[None], rhp[None], rtr[None], betas=betas[None])[0][0]
    np.testing.assert_allclose(right_verts, left_verts * MIRROR, atol=1e-9)


def write_ho3d(root, models, mano, rng):
    """An HO-3D fixture: one sequence of 12 frames; frames 0 and 10 hold the object (three digits on it), frame 5
    too but the stride skips it, frame 3 is unlabelled, the rest have the hand away. Returns the expected
    (frame, hand vertices in the camera frame, object rotation, object translation) of the grasp frames."""
    data = load_hand_data(mano, "right")
    betas = rng.normal(size=10)
    pose, trans = rng.normal(0, 0.4, 48), np.array([0.02, -0.01, 0.5])
    hand, _, _ = forward(data, pose[None, :3], pose[None, 3:], trans[None], betas=betas[None])
    rotation, translation = random_rotation(rng), np.array([0.03, 0.0, 0.55])
    tips = data.tip_vertex_ids[:4]  # thumb, index, middle, ring
    grip = (hand[0][tips] - translation) @ rotation  # in the object's frame
    obj = trimesh.convex.convex_hull(np.vstack([grip, grip.mean(0) + rng.normal(0, 0.01, (8, 3))]))
    (models / "models" / "006_mustard_bottle").mkdir(parents=True)
    obj.export(models / "models" / "006_mustard_bottle" / "textured_simple.obj")
    meta = root / "train" / "MC1" / "meta"
    meta.mkdir(parents=True)
    expected = []
    for f in range(12):
        held = f in (0, 5, 10)
        anno = {"handPose": pose, "handTrans": trans if held else trans + [0.3, 0, 0], "handBeta": betas,
                "objRot": None if f == 3 else cv_rodrigues(rotation), "objTrans": translation,
                "objName": "006_mustard_bottle", "camMat": np.eye(3)}
        with open(meta / f"{f:04d}.pkl", "wb") as fh:
            pickle.dump(anno, fh, protocol=2)
        if f in (0, 10):
            expected.append((f, hand[0], rotation, translation))
    return expected


def cv_rodrigues(rotation):
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rotation).as_rotvec().reshape(3, 1)


def test_ho3d_frames_in_contact_reproduce_the_hands(tmp_path, capsys):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src, models, out = tmp_path / "HO3D_v3", tmp_path / "YCB", tmp_path / "converted"
    expected = write_ho3d(src, models, mano, np.random.default_rng(5))
    assert main(["convert", "--from", "ho3d", str(src), "--models", str(models), "--out", str(out), "--mano",
                 str(mano)]) == 0, capsys.readouterr().err
    grasps = load_grasps(out / "grasps")
    assert len(grasps["object_id"]) == 2 and set(grasps["object_id"]) == {"ho3d_006_mustard_bottle"}
    right = load_hand_data(mano, "right")
    mesh_source = trimesh.load(models / "models" / "006_mustard_bottle" / "textured_simple.obj", force="mesh")
    centre = mesh_source.bounds.mean(0)
    for k, (_, hand, rotation, translation) in enumerate(expected):
        verts, _, _ = forward(right, *(grasps[key][k][None].astype(np.float64) for key in
                                       ("global_orient", "hand_pose", "transl")),
                              betas=grasps["betas"][k][None].astype(np.float64))
        in_camera = (verts[0] + centre) @ rotation.T + translation
        assert np.abs(in_camera - hand).max() < 1e-5


def test_annotation_pickles_that_hold_code_are_refused(tmp_path):
    from jhod_core.errors import JHODError
    from training.datasets.common import safe_pickle_load

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))

    path = tmp_path / "0000.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"handPose": Evil()}, fh)
    try:
        safe_pickle_load(path)
    except JHODError as exc:
        assert "refusing" in str(exc)
    else:
        raise AssertionError("an unsafe pickle was loaded")
    with open(path, "wb") as fh:
        pickle.dump({"handPose": np.arange(48.0), "objName": "x", "objRot": None}, fh, protocol=2)
    assert safe_pickle_load(path)["handPose"].shape == (48,)


def write_grab(root, mano, rng):
    """A GRAB fixture: one 61-frame sequence; the right hand holds the mug throughout (three of its parts in the
    contact labels), the left hand only in frames 10-20. Returns (side, frame, expected world vertices, object
    rotation as GRAB applies it (row vectors), object translation) for the grasp frames."""
    n = 61
    betas = rng.normal(size=10)
    (root / "tools" / "object_meshes" / "contact_meshes").mkdir(parents=True)
    (root / "tools" / "subject_meshes" / "male").mkdir(parents=True)
    mug = trimesh.creation.cylinder(radius=0.04, height=0.1)
    mug.apply_translation((0.0, 0.01, 0.05))
    mug.export(root / "tools" / "object_meshes" / "contact_meshes" / "mug.ply")
    obj_go, obj_tr = rng.normal(0, 0.5, (n, 3)), rng.normal(0, 0.2, (n, 3)) + [0, 0, 0.8]
    contact = np.zeros((n, 50), dtype=np.int64)
    contact[:, :3] = [22, 41, 53]  # right palm, index, thumb on three object vertices
    contact[10:21, 3:6] = [21, 26, 38]  # the left hand joins for a while
    seq = {"obj_name": "mug", "sbj_id": "s1", "n_frames": n,
           "object": {"params": {"global_orient": obj_go, "transl": obj_tr},
                      "object_mesh": "tools/object_meshes/contact_meshes/mug.ply"},
           "contact": {"object": contact, "body": np.zeros((n, 10))}}
    expected = []
    for side, key in (("right", "rhand"), ("left", "lhand")):
        data = load_hand_data(mano, side)
        template = data.v_template + data.shapedirs @ betas
        path = f"tools/subject_meshes/male/s1_{key}.ply"
        trimesh.Trimesh(template, data.faces, process=False).export(root / path)
        go, pose, tr = rng.normal(0, 0.5, (n, 3)), rng.normal(0, 0.4, (n, 45)), rng.normal(0, 0.1, (n, 3))
        seq[key] = {"params": {"global_orient": go, "fullpose": pose, "transl": tr}, "vtemp": path}
        for t in ((0, 30, 60) if side == "right" else (10,)):
            verts = forward(data, go[t][None], pose[t][None], tr[t][None], betas=betas[None])[0][0]
            expected.append((side, t, verts, rodrigues(obj_go[t][None])[0], obj_tr[t]))
    (root / "grab" / "s1").mkdir(parents=True)
    np.savez(root / "grab" / "s1" / "mug_lift_1.npz", **seq)
    return expected


def test_grab_contact_frames_reproduce_the_hands(tmp_path, capsys):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src, out = tmp_path / "GRAB", tmp_path / "converted"
    expected = write_grab(src, mano, np.random.default_rng(7))
    assert main(["convert", "--from", "grab", str(src), "--out", str(out), "--mano", str(mano)]) == 0, \
        capsys.readouterr().err
    grasps = load_grasps(out / "grasps")
    assert list(grasps["object_id"]) == ["grab_mug"] * 3 + ["grab_mug_mirrored"]
    right = load_hand_data(mano, "right")
    source = trimesh.load(src / "tools" / "object_meshes" / "contact_meshes" / "mug.ply", force="mesh")
    for k, (side, _, hand, row_rotation, translation) in enumerate(expected):
        verts = forward(right, *(grasps[key][k][None].astype(np.float64)
                                 for key in ("global_orient", "hand_pose", "transl")),
                        betas=grasps["betas"][k][None].astype(np.float64))[0][0]
        mirror = MIRROR if side == "left" else np.ones(3)
        centre = (source.vertices * mirror).min(0) / 2 + (source.vertices * mirror).max(0) / 2
        in_object = (verts + centre) * mirror
        world = in_object @ row_rotation + translation  # GRAB's object model: row vectors times R
        assert np.abs(world - hand).max() < 1e-5, (side, np.abs(world - hand).max())


def write_oakink(root, mano, rng):
    """OakInk-Shape fixture: a real grasp (axis-angle) on a mug and a transferred one (quaternions) on a virtual
    mug; returns (object name, hand vertices in the canonical frame) per grasp, in file order."""
    from scipy.spatial.transform import Rotation

    data = load_hand_data(mano, "right")
    (root / "metaV2").mkdir(parents=True)
    (root / "metaV2" / "object_id.json").write_text('{"C12001": {"name": "cup_real"}}')
    (root / "metaV2" / "virtual_object_id.json").write_text('{"s12002": {"name": "cup_virtual_0"}}')
    expected = []
    for folder, name, extents in (("OakInkObjectsV2", "cup_real", (0.08, 0.08, 0.1)),
                                  ("OakInkVirtualObjectsV2", "cup_virtual_0", (0.07, 0.07, 0.12))):
        (root / folder / name / "align").mkdir(parents=True)
        box = trimesh.creation.box(extents)
        box.apply_translation((0.02, 0.0, 0.05))
        box.export(root / folder / name / "align" / f"{name}_align.obj")
    grasp = root / "oakink_shape_v2" / "mug" / "C12001" / "0cc013118e"
    (grasp / "s12002").mkdir(parents=True)
    for path, name, quaternion in ((grasp / "hand_param.pkl", "cup_real", False),
                                   (grasp / "s12002" / "hand_param.pkl", "cup_virtual_0", True)):
        pose, betas, tsl = rng.normal(0, 0.4, 48), rng.normal(size=10), rng.normal(0, 0.05, 3)
        stored = Rotation.from_rotvec(pose.reshape(16, 3)).as_quat()[:, [3, 0, 1, 2]] if quaternion else pose
        with open(path, "wb") as fh:
            pickle.dump({"pose": stored, "shape": betas, "tsl": tsl}, fh, protocol=2)
        verts, joints, _ = forward(data, pose[None, :3], pose[None, 3:], np.zeros((1, 3)), betas=betas[None])
        expected.append((name, verts[0] - joints[0, 0] + tsl))  # manotorch center_idx=0, then + tsl
    return expected


def test_oakink_real_and_virtual_grasps_reproduce_the_hands(tmp_path, capsys):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src, out = tmp_path / "shape", tmp_path / "converted"
    expected = write_oakink(src, mano, np.random.default_rng(11))
    assert main(["convert", "--from", "oakink", str(src), "--out", str(out), "--mano", str(mano)]) == 0, \
        capsys.readouterr().err
    grasps = load_grasps(out / "grasps")
    assert list(grasps["object_id"]) == ["oakink_cup_real", "oakink_cup_virtual_0"]
    right = load_hand_data(mano, "right")
    for k, (name, hand) in enumerate(expected):
        verts = forward(right, *(grasps[key][k][None].astype(np.float64)
                                 for key in ("global_orient", "hand_pose", "transl")),
                        betas=grasps["betas"][k][None].astype(np.float64))[0][0]
        # both frames are the aligned mesh centred on its bounding box: no offset between them
        assert np.abs(verts - hand).max() < 1e-5, (name, np.abs(verts - hand).max())


def write_arctic(root, mano, rng):
    """An ARCTIC fixture: one 61-frame sequence; the right hand holds the box (three fingertips on it) all along,
    the left hand stays away. Returns (frame, world vertices, object rotation, translation in metres)."""
    n = 61
    data = load_hand_data(mano, "right")
    betas = rng.normal(size=10)
    rot, pose, trans = rng.normal(0, 0.5, (n, 3)), rng.normal(0, 0.4, (n, 45)), rng.normal(0, 0.1, (n, 3))
    obj = np.zeros((n, 7))
    obj[:, 0] = 0.0  # closed lid
    obj[:, 1:4], obj[:, 4:] = rng.normal(0, 0.5, (n, 3)), rng.normal(0, 100, (n, 3))  # translation in mm
    # the box is made around the right hand's fingertips of frame 0 (in the object's frame), and the hand
    # keeps that relation: each frame's hand follows the object
    hp0 = pose[0] + data.hands_mean
    verts0 = forward(data, rot[0][None], hp0[None], trans[0][None], betas=betas[None])[0][0]
    r0, t0 = rodrigues(obj[0, 1:4][None])[0], obj[0, 4:] / 1000
    tips = (verts0[data.tip_vertex_ids[:4]] - t0) @ r0
    box = trimesh.convex.convex_hull(np.vstack([tips, tips.mean(0) + rng.normal(0, 0.01, (8, 3))]))
    folder = root / "meta" / "object_vtemplates" / "box"
    folder.mkdir(parents=True)
    trimesh.Trimesh(box.vertices * 1000, box.faces).export(folder / "mesh.obj")  # ARCTIC's templates are in mm
    (folder / "parts.json").write_text(json.dumps([False] * len(box.vertices)))
    expected = []
    for t in range(n):
        r, tr = rodrigues(obj[t, 1:4][None])[0], obj[t, 4:] / 1000
        # same hand pose relative to the object: move the frame-0 hand rigidly with the object
        rel = r @ r0.T
        go, tt = transform_params(rot[0][None], trans[0][None], rel, tr - rel @ t0, rest_wrist(data, betas))
        rot[t], trans[t], pose[t] = go[0], tt[0], pose[0]
        if t % 30 == 0:
            verts = forward(data, rot[t][None], hp0[None], trans[t][None], betas=betas[None])[0][0]
            expected.append((t, verts, r, tr))
    hands = {"right": {"rot": rot, "pose": pose, "trans": trans, "shape": betas, "fitting_err": np.zeros(n)},
             "left": {"rot": rot, "pose": pose, "trans": trans + 1.0, "shape": betas, "fitting_err": np.zeros(n)}}
    (root / "raw_seqs" / "s01").mkdir(parents=True)
    np.save(root / "raw_seqs" / "s01" / "box_grab_01.mano.npy", hands)
    np.save(root / "raw_seqs" / "s01" / "box_grab_01.object.npy", obj)
    return expected


def test_arctic_grasps_reproduce_the_hands(tmp_path, capsys):
    mano = tmp_path / "mano"
    mano.mkdir()
    synthetic_mano(mano)
    src, out = tmp_path / "arctic_data" / "data", tmp_path / "converted"
    expected = write_arctic(src, mano, np.random.default_rng(13))
    assert main(["convert", "--from", "arctic", str(src), "--out", str(out), "--mano", str(mano)]) == 0, \
        capsys.readouterr().err
    grasps = load_grasps(out / "grasps")
    assert list(grasps["object_id"]) == ["arctic_box_a+000"] * 3  # the left hand never touches
    right = load_hand_data(mano, "right")
    template = trimesh.load(src / "meta" / "object_vtemplates" / "box" / "mesh.obj", force="mesh").vertices / 1000
    centre = (template.min(0) + template.max(0)) / 2
    for k, (_, hand, rotation, translation) in enumerate(expected):
        verts = forward(right, *(grasps[key][k][None].astype(np.float64)
                                 for key in ("global_orient", "hand_pose", "transl")),
                        betas=grasps["betas"][k][None].astype(np.float64))[0][0]
        world = (verts + centre) @ rotation.T + translation
        assert np.abs(world - hand).max() < 1e-5, np.abs(world - hand).max()


def test_arctic_articulation_turns_the_top_part_about_minus_z():
    from training.datasets.arctic import articulated

    vertices = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 5.0], [0.0, 0.0, -5.0], [5.0, 5.0, 5.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    top = np.array([True, True, False, False])
    mesh = articulated(vertices, faces, top, np.pi / 2)
    np.testing.assert_allclose(mesh.vertices[0], [0.0, -0.01, 0.0], atol=1e-12)  # mm -> m, turned by -90 deg
    np.testing.assert_allclose(mesh.vertices[1], [0.01, 0.0, 0.005], atol=1e-12)
    np.testing.assert_allclose(mesh.vertices[2:], vertices[2:] / 1000)  # the bottom stays
