"""The MANO-format hand: file contract, forward parity, keypoints, skin, limits, mirroring, bad files."""

import pickle
import shutil

import numpy as np
import pytest
import torch
import trimesh

from jhod_core.errors import HandModelError
from jhod_core.hand import HandModel, load_hand_data, mirror_to_left, numpy_forward
from jhod_core.hand.joint_limits import (anatomical_frames, joint_angles, limit_violation, limits_array,
                                         pose_from_angles, to_right_convention)
from jhod_core.hand.model_file import ENV_VAR, OPEN_HAND_FILE
from jhod_core.hand.poses import NAMED_POSES_DEG, named_pose
from jhod_core.hand.topology import KEYPOINT_ORDER, PARENTS
from training.assets.build_open_hand import MANO_REST_JOINTS, MANO_TIPS

MIRROR = np.array([-1.0, 1.0, 1.0])


@pytest.fixture(autouse=True)
def _no_user_mano(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def right():
    return load_hand_data()


def random_params(batch, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return dict(global_orient=torch.randn(batch, 3, generator=g, dtype=dtype),
                hand_pose=0.5 * torch.randn(batch, 45, generator=g, dtype=dtype),
                transl=0.1 * torch.randn(batch, 3, generator=g, dtype=dtype),
                betas=torch.randn(batch, 10, generator=g, dtype=dtype))


def test_npz_loads_unchanged_through_smplx(tmp_path):
    import smplx

    shutil.copy(OPEN_HAND_FILE, tmp_path / "MANO_RIGHT.npz")
    layer = smplx.create(str(tmp_path / "MANO_RIGHT.npz"), model_type="mano", ext="npz", use_pca=False,
                         flat_hand_mean=True)
    params = random_params(3, 0, torch.float32)
    ours = HandModel()(**params)
    theirs = layer(**params)
    assert theirs.vertices.shape == ours.vertices.shape
    assert torch.allclose(theirs.vertices, ours.vertices, atol=1e-6)


def test_numpy_forward_with_pose_correctives_matches_smplx(tmp_path):
    """A MANO file has pose correctives (the open hand's are zero and skipped): the NumPy forward blends them as
    smplx does, in one batch and for a subset of vertices."""
    import smplx

    arrays = dict(np.load(OPEN_HAND_FILE, allow_pickle=False))
    arrays["posedirs"] = np.random.default_rng(0).normal(0.0, 0.002, arrays["posedirs"].shape)
    np.savez(tmp_path / "MANO_RIGHT.npz", **arrays)
    layer = smplx.create(str(tmp_path / "MANO_RIGHT.npz"), model_type="mano", ext="npz", use_pca=False,
                         flat_hand_mean=True, dtype=torch.float64)
    params = random_params(5, 2)
    theirs = layer(**params).vertices.numpy()
    data = load_hand_data(tmp_path / "MANO_RIGHT.npz")
    numpy_params = {k: v.numpy() for k, v in params.items()}
    ours = numpy_forward(data, **numpy_params)[0]
    assert np.abs(ours - theirs).max() < 1e-7  # smplx adds 1e-8 to rotation angles
    assert np.abs(ours - numpy_forward(load_hand_data(), **numpy_params)[0]).max() > 1e-4  # the correctives count
    ids = np.array([3, 100, 777])
    np.testing.assert_allclose(numpy_forward(data, vertex_ids=ids, **numpy_params)[0], ours[:, ids], atol=1e-12)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("flat", [True, False])
def test_numpy_forward_matches_torch(side, flat):
    model = HandModel(side=side, flat_hand_mean=flat, dtype=torch.float32)
    params = random_params(16, 1, torch.float32)
    out = model(**params)
    verts, joints, keypoints = numpy_forward(model.data, flat_hand_mean=flat,
                                             **{k: v.numpy() for k, v in params.items()})
    assert np.abs(out.vertices.numpy() - verts).max() < 1e-5
    assert np.abs(out.joints.numpy() - joints).max() < 1e-5
    assert np.abs(out.keypoints.numpy() - keypoints).max() < 1e-5


def test_torch_forward_is_differentiable_and_batched():
    model = HandModel()
    params = {k: v.float().requires_grad_() for k, v in random_params(4, 2).items()}
    out = model(**params)
    out.keypoints[:, 4].sum().backward()  # thumb tip
    assert out.vertices.shape == (4, model.data.num_vertices, 3)
    assert params["hand_pose"].grad[:, 36:45].abs().sum() > 0  # thumb joints move the thumb tip
    assert params["hand_pose"].grad[:, 3:9].abs().sum() == 0  # index2/3 do not


def test_rest_joints_are_manos(right):
    assert np.abs(right.rest_joints - MANO_REST_JOINTS).max() < 1e-6
    assert np.allclose(right.J_regressor.sum(1), 1.0)
    assert (right.J_regressor >= 0).all()


def test_21_keypoints(right):
    verts, joints, kp = numpy_forward(right, hand_pose=named_pose("fist", right), transl=[0.1, 0.2, 0.3])
    assert kp.shape == (1, 21, 3)
    assert np.allclose(kp[0, 0], joints[0, 0])
    # tips are mesh vertices: thumb (kp 4), index (8), middle (12), ring (16), pinky (20)
    for slot, tip in zip((4, 8, 12, 16, 20), right.tip_vertex_ids):
        assert np.allclose(kp[0, slot], verts[0, tip])
    assert np.allclose(kp[0, [1, 2, 3]], joints[0, [13, 14, 15]])
    assert sorted(KEYPOINT_ORDER.tolist()) == list(range(21))
    # the rest tips sit where MANO's template tips are
    rest = numpy_forward(right)[2][0]
    assert np.abs(rest[[4, 8, 12, 16, 20]] - MANO_TIPS).max() < 1e-6


def test_skin_is_a_watertight_adult_hand(right):
    assert 1500 <= right.num_vertices <= 5000
    mesh = trimesh.Trimesh(right.v_template, right.closed_faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert 200e-6 < mesh.volume < 600e-6  # adult hand volume, m^3 (outward normals: volume > 0)
    wrist_to_middle_tip = np.linalg.norm(right.v_template[right.tip_vertex_ids[2]] - right.rest_joints[0])
    assert 0.16 < wrist_to_middle_tip < 0.20
    posed = numpy_forward(right, hand_pose=named_pose("fist", right))[0][0]
    assert trimesh.Trimesh(posed, right.closed_faces, process=False).is_watertight


def test_palm_faces_minus_y_and_fingers_point_minus_x(right):
    j = right.rest_joints
    assert (j[[3, 6, 9, 12], 0] < j[0, 0] - 0.08).all()
    mesh = trimesh.Trimesh(right.v_template, right.closed_faces, process=False)
    palm_centre = j[[0, 1, 4, 7, 10]].mean(0)
    below = mesh.vertices[:, 1] < palm_centre[1]
    near = np.linalg.norm(mesh.vertices[:, [0, 2]] - palm_centre[[0, 2]], axis=1) < 0.02
    assert mesh.vertex_normals[below & near, 1].mean() < -0.7


@pytest.mark.parametrize("joint", range(1, 16))
@pytest.mark.parametrize("axis", [2, 0], ids=["flex", "twist60"])
def test_no_collapse_when_a_joint_bends(right, joint, axis):
    """Skin around a joint keeps >= 60% of its distance to the joint (LBS alone keeps ~71% at 90 deg).

    Flexion goes to the joint's full anatomical range (90-100 degrees for fingers, 60 for the thumb
    base); twist to 60 degrees, well past every limit, to catch candy-wrapper collapse.
    """
    degrees = np.rad2deg(limits_array()[joint - 1, 2, 1]) if axis == 2 else 60.0
    frames = anatomical_frames(right.rest_joints)
    angles = np.zeros((15, 3))
    angles[joint - 1, axis] = np.deg2rad(degrees)
    rest = right.v_template
    posed, joints, _ = numpy_forward(right, hand_pose=pose_from_angles(angles, frames))
    near = np.argsort(np.linalg.norm(rest - right.rest_joints[joint], axis=1))[:40]
    r0 = np.linalg.norm(rest[near] - right.rest_joints[joint], axis=1)
    r1 = np.linalg.norm(posed[0, near] - joints[0, joint], axis=1)
    assert (r1 / r0).min() > 0.6
    vol0 = trimesh.Trimesh(rest, right.closed_faces).volume
    vol1 = trimesh.Trimesh(posed[0], right.closed_faces).volume
    assert abs(vol1 / vol0 - 1) < 0.05


def test_skinning_weights_are_smooth(right):
    w = right.weights
    assert np.allclose(w.sum(1), 1.0) and (w >= 0).all()
    edges = np.unique(np.sort(np.concatenate([right.faces[:, [0, 1]], right.faces[:, [1, 2]]]), axis=1), axis=0)
    jump = np.abs(w[edges[:, 0]] - w[edges[:, 1]]).max(1)
    assert np.percentile(jump, 99) < 0.5  # no hard seams between bones


def test_joint_limits(right):
    frames = anatomical_frames(right.rest_joints)
    lim = limits_array()
    assert lim.shape == (15, 3, 2) and (lim[..., 0] < lim[..., 1]).all()
    # flat and the named poses are anatomically valid
    for name in NAMED_POSES_DEG:
        assert limit_violation(named_pose(name, right), frames).max() < 1e-9, name
    # angles round-trip and mean what they say
    angles = np.deg2rad(np.random.default_rng(0).uniform(-30, 30, (15, 3)))
    assert np.allclose(joint_angles(pose_from_angles(angles, frames), frames), angles)
    # bending the index PIP backwards by 40 degrees violates its limit by 40 degrees
    bad = np.zeros((15, 3))
    bad[1, 2] = np.deg2rad(-40)
    viol = limit_violation(pose_from_angles(bad, frames), frames)
    assert np.isclose(np.rad2deg(viol[1, 2]), 40.0) and viol.sum() == viol[1, 2]
    # torch path agrees and has gradients
    t = torch.tensor(pose_from_angles(bad, frames), requires_grad=True)
    v = limit_violation(t, frames)
    assert np.allclose(v.detach().numpy(), viol)
    v.sum().backward()
    assert t.grad.abs().sum() > 0


def test_positive_bend_curls_fingers_towards_the_palm(right):
    frames = anatomical_frames(right.rest_joints)
    angles = np.zeros((15, 3))
    angles[[0, 1, 2], 2] = np.deg2rad(60)  # index MCP, PIP, DIP
    kp = numpy_forward(right, hand_pose=pose_from_angles(angles, frames))[2][0]
    rest = numpy_forward(right)[2][0]
    assert kp[8, 1] < rest[8, 1] - 0.03  # index tip moved palmwards (-y)


def test_left_hand_is_the_mirror_of_the_right(right):
    left = load_hand_data(side="left")
    params = {k: v.numpy() for k, v in random_params(5, 3).items()}
    flip = np.array([1.0, -1.0, -1.0])
    v_right = numpy_forward(right, **params)[0]
    v_left = numpy_forward(left, global_orient=params["global_orient"] * flip,
                           hand_pose=params["hand_pose"] * np.tile(flip, 15),
                           transl=params["transl"] * MIRROR, betas=params["betas"])[0]
    assert np.abs(v_left - v_right * MIRROR).max() < 1e-9
    mesh = trimesh.Trimesh(left.v_template, left.closed_faces, process=False)
    assert mesh.is_watertight and mesh.volume > 0  # outward normals after the reflection
    assert np.allclose(to_right_convention(left.hands_mean, "left"), right.hands_mean)
    # torch model agrees with the numpy mirror
    out = HandModel(side="left", dtype=torch.float64)(**{k: torch.tensor(v) for k, v in params.items()})
    assert np.abs(out.vertices.numpy() - numpy_forward(left, **params)[0]).max() < 1e-8


def test_mirroring_twice_is_identity(right):
    back = mirror_to_left(mirror_to_left(right))
    for key in ("v_template", "shapedirs", "posedirs", "faces", "hands_mean", "hands_components"):
        assert np.array_equal(getattr(back, key), getattr(right, key)), key


def test_shape_space_changes_size_not_pose(right):
    verts, joints, _ = numpy_forward(right, betas=np.eye(10)[0] * 2)
    length = np.linalg.norm(verts[0, right.tip_vertex_ids[2]] - joints[0, 0])
    rest_length = np.linalg.norm(right.v_template[right.tip_vertex_ids[2]] - right.rest_joints[0])
    assert 1.05 < length / rest_length < 1.25


# ---- real MANO files and bad input ----------------------------------------------------------------

def fake_mano_arrays(right, n=778):
    """A MANO-shaped dictionary (778 vertices), like the original pickle but without chumpy."""
    from scipy.sparse import csc_matrix

    rng = np.random.default_rng(0)
    idx = rng.choice(right.num_vertices, n, replace=False)
    v = right.v_template[idx]
    reg = np.zeros((16, n))
    reg[np.arange(16), np.arange(16)] = 1.0
    weights = np.zeros((n, 16))
    weights[:, 0] = 1.0
    faces = np.stack([np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)], axis=1)
    kintree = np.stack([PARENTS % (2 ** 32), np.arange(16)])
    return {"v_template": v, "shapedirs": np.zeros((n, 3, 10)), "posedirs": np.zeros((n, 3, 135)),
            "J_regressor": csc_matrix(reg), "weights": weights, "kintree_table": kintree, "f": faces,
            "hands_components": np.eye(45), "hands_mean": np.zeros(45), "bs_type": "lrotmin"}


def test_real_mano_pickle_from_env_var(tmp_path, monkeypatch, right):
    arrays = fake_mano_arrays(right)
    with open(tmp_path / "MANO_RIGHT.pkl", "wb") as fh:
        pickle.dump(arrays, fh, protocol=2)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    data = load_hand_data()
    assert not data.is_open_hand and data.source.endswith("MANO_RIGHT.pkl")
    assert data.tip_vertex_ids.tolist() == [745, 317, 444, 556, 673]
    assert len(data.closed_faces) == len(data.faces) + 14
    out = HandModel()(hand_pose=torch.zeros(2, 45))
    assert out.keypoints.shape == (2, 21, 3)


def write_npz(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("missing_file", "not found"),
    ("empty_dir", "no MANO_RIGHT.pkl or MANO_RIGHT.npz"),
    ("corrupt", "cannot read hand model"),
    ("missing_key", "missing J_regressor"),
    ("wrong_shape", "weights must have shape"),
    ("nan", "contains NaN"),
    ("wrong_tree", "is not MANO's"),
    ("chumpy", "pip install chumpy"),
    ("not_a_dict", "does not hold a MANO dictionary"),
    ("bad_suffix", "expected .npz or .pkl"),
])
def test_bad_hand_files_give_clear_errors(tmp_path, right, case, message):
    arrays = {k: v for k, v in right.as_mano_arrays().items()}
    path = tmp_path / "MANO_RIGHT.npz"
    if case == "missing_file":
        path = tmp_path / "nope" / "MANO_RIGHT.pkl"
    elif case == "empty_dir":
        path = tmp_path
    elif case == "corrupt":
        path.write_bytes(b"PK\x03\x04 this is not a zip file")
    elif case == "missing_key":
        del arrays["J_regressor"]
        write_npz(path, arrays)
    elif case == "wrong_shape":
        arrays["weights"] = arrays["weights"][:, :15]
        write_npz(path, arrays)
    elif case == "nan":
        arrays["v_template"] = arrays["v_template"].copy()
        arrays["v_template"][3, 1] = np.nan
        write_npz(path, arrays)
    elif case == "wrong_tree":
        arrays["kintree_table"] = arrays["kintree_table"].copy()
        arrays["kintree_table"][0, 5] = 0
        write_npz(path, arrays)
    elif case == "chumpy":
        path = tmp_path / "MANO_RIGHT.pkl"
        # a pickle that needs the chumpy module, like MPI's original MANO_RIGHT.pkl
        path.write_bytes(b"\x80\x02cchumpy_missing_for_test.ch\nCh\nq\x00.")
        path = path.rename(tmp_path / "MANO_RIGHT.pkl")
    elif case == "not_a_dict":
        path = tmp_path / "MANO_RIGHT.pkl"
        path.write_bytes(pickle.dumps([1, 2, 3]))
    elif case == "bad_suffix":
        path = tmp_path / "MANO_RIGHT.obj"
        path.write_text("v 0 0 0\n")
    with pytest.raises(HandModelError, match=message):
        load_hand_data(path)


def test_env_var_pointing_nowhere_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(HandModelError, match=f"\\${ENV_VAR}"):
        load_hand_data()


def test_bad_side():
    with pytest.raises(HandModelError, match="side must be"):
        load_hand_data(side="middle")


def test_numpy_path_imports_neither_torch_nor_smplx():
    """Blender has no torch: the hand file loader and NumPy forward must not pull it in."""
    import subprocess
    import sys

    code = ("import sys, jhod_core.hand as h, jhod_core.hand.poses, jhod_core.hand.regions; "
            "d = h.load_hand_data(side='left'); h.numpy_forward(d, hand_pose=[0.1] * 45); "
            "bad = [m for m in ('torch', 'smplx') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_hand_writes_a_closed_mesh(tmp_path):
    from jhod_core.cli import main

    out = tmp_path / "fist.obj"
    assert main(["hand", "--pose", "fist", "--side", "left", "--out", str(out)]) == 0
    mesh = trimesh.load(out, process=False)
    assert mesh.is_watertight and len(mesh.vertices) == load_hand_data().num_vertices


@pytest.mark.parametrize("args, message", [
    (["--pose", "wave"], "unknown pose"),
    (["--mano", "/nonexistent/MANO_RIGHT.pkl"], "not found"),
    (["--out-suffix"], "--out must end in"),
])
def test_cli_hand_bad_input(tmp_path, capsys, args, message):
    from jhod_core.cli import main

    out = str(tmp_path / "hand.obj")
    if args == ["--out-suffix"]:
        args, out = [], str(tmp_path / "hand.txt")
    assert main(["hand", *args, "--out", out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "hand.obj").exists()


def test_mirror_grasp_gives_the_mirrored_hand_on_the_left_model():
    from jhod_core.hand import mirror_grasp, mirror_to_left

    right = load_hand_data()
    left = mirror_to_left(right)
    rng = np.random.default_rng(3)
    go, hp, tr = rng.normal(size=(2, 3)), 0.4 * rng.normal(size=(2, 45)), 0.1 * rng.normal(size=(2, 3))
    v_right = numpy_forward(right, global_orient=go, hand_pose=hp, transl=tr)[0]
    v_left = numpy_forward(left, *mirror_grasp(go, hp, tr))[0]
    np.testing.assert_allclose(v_left, v_right * np.array([-1.0, 1.0, 1.0]), atol=1e-9)


def test_hand_data_is_loaded_once_and_read_only(tmp_path):
    """load_hand_data shares one read-only HandData per file; another file gets its own."""
    import pytest

    from jhod_core.hand import load_hand_data

    first = load_hand_data()
    assert load_hand_data() is first
    with pytest.raises(ValueError):
        first.v_template[0, 0] = 1.0  # shared: nobody may change it for everyone else
    copy = tmp_path / "hand.npz"
    shutil.copy(first.source, copy)
    mine = load_hand_data(copy)
    assert mine is not first and load_hand_data(copy) is mine
    np.testing.assert_array_equal(mine.v_template, first.v_template)
