"""Steering grasps (jhod_core.steering): the measures, and the pipeline's choice among a pool of samples."""

import numpy as np
import pytest
import trimesh

from jhod_core.cli import main
from jhod_core.errors import JHODError
from jhod_core.hand import load_hand_data
from jhod_core.hand.numpy_forward import forward
from jhod_core.hand.poses import named_pose
from jhod_core.hand.regions import finger_vertex_ids, palmar_pads
from jhod_core.pipeline import MIRROR, collect, iter_grasps, load_backend, prepare_object
from jhod_core.refine import ObjectSurface
from jhod_core.steering import (POOL, Steering, choose, contact_centroids, grasp_types, palm_directions,
                                parse_vector, steering_costs)
from tests.tiny_model import write_tiny_weights

STEPS = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(weights):
    return load_backend(weights, "numpy")


@pytest.fixture(scope="module")
def box():
    mesh = trimesh.creation.box(extents=(0.06, 0.05, 0.14))
    mesh.apply_translation((0.2, 0.0, 0.05))
    return mesh


@pytest.mark.parametrize("side", ["right", "left"])
def test_palm_direction_points_where_the_fingers_close(side):
    data = load_hand_data(side=side)
    _, _, keypoints = forward(data, np.zeros((1, 3)), named_pose("fist", data)[None], np.zeros((1, 3)))
    palm = palm_directions(keypoints, side)[0]
    tips, knuckles = keypoints[0, [8, 12, 16, 20]], keypoints[0, [5, 9, 13, 17]]
    assert np.all((tips - knuckles) @ palm > 0.005)
    assert np.isclose(np.linalg.norm(palm), 1.0)


def test_grasp_types_and_contact_centroids_from_contact_patterns():
    data = load_hand_data()
    digits, palm = finger_vertex_ids(data), palmar_pads(data)[0]
    contact = np.zeros((3, data.num_vertices), bool)
    contact[0, palm[:5]] = True  # palm: a wrap
    contact[1, [digits[d][0] for d in ("thumb", "index", "middle")]] = True
    contact[2, [digits[d][0] for d in ("thumb", "index")]] = True
    assert grasp_types(contact, digits, palm).tolist() == ["power", "precision", "pinch"]
    vertices = np.random.default_rng(0).normal(size=(3, data.num_vertices, 3))
    centres = contact_centroids(vertices, contact)
    np.testing.assert_allclose(centres[2], vertices[2, contact[2]].mean(0))
    assert np.isnan(contact_centroids(vertices, np.zeros_like(contact))).all()


@pytest.mark.parametrize("kwargs, pattern", [
    ({"near": (0, 0)}, "target point"), ({"near": (0, np.nan, 0)}, "target point"),
    ({"approach": (0, 0, 0)}, "approach direction"), ({"grasp_type": "grab"}, "grasp type")])
def test_bad_steering_is_refused_with_one_sentence(kwargs, pattern):
    with pytest.raises(JHODError, match=pattern):
        Steering(**kwargs)


def test_parse_vector():
    assert parse_vector("0.01, 0,-2", "--near") == (0.01, 0.0, -2.0)
    for bad in ("1,2", "a,b,c", "1,2,3,4", "nan,0,0"):
        with pytest.raises(JHODError, match="three comma-separated numbers"):
            parse_vector(bad, "--near")


@pytest.mark.parametrize("side", ["right", "left"])
def test_steered_sampling_keeps_the_pool_grasps_that_best_meet_the_wishes(model, box, side):
    """The steered run is exactly the plain run of POOL x as many grasps, cut down by the steering costs; its
    grasps meet the wish better than the pool's average."""
    top = (0.2, 0.0, 0.05 + 0.07)
    steering = Steering(near=top, approach=(0.0, 0.0, -1.0))
    steered = collect(iter_grasps(model, box, 3, seed=4, steps=STEPS, side=side, steering=steering))
    pool = collect(iter_grasps(model, box, 3 * POOL, seed=4, steps=STEPS, side=side))
    assert steered["index"].tolist() == [0, 1, 2]
    for key in ("global_orient", "hand_pose", "transl"):
        np.testing.assert_array_equal(steered[key], pool[key][steered["pool_index"]])
    prepared = prepare_object(box, seed=4, side=side)  # the pipeline's own surface samples, in the object frame
    flip = MIRROR if side == "left" else np.ones(3)
    surface = ObjectSurface.from_points(prepared.points * flip, prepared.normals * flip)
    costs = steering_costs(pool, surface, steering, load_hand_data(side=side), side)["cost"]
    np.testing.assert_array_equal(np.sort(steered["pool_index"]), choose(costs, 3))
    assert costs[steered["pool_index"]].max() <= np.sort(costs)[2] + 1e-9
    assert costs[steered["pool_index"]].mean() < costs.mean()


def test_no_wish_is_the_plain_pipeline(model, box):
    plain = collect(iter_grasps(model, box, 2, seed=1, steps=STEPS))
    same = collect(iter_grasps(model, box, 2, seed=1, steps=STEPS, steering=Steering()))
    np.testing.assert_array_equal(plain["transl"], same["transl"])
    assert "pool_index" not in same


def test_cli_steering_options(box, tmp_path, capsys):
    path = tmp_path / "box.obj"
    box.export(path)
    folder = tmp_path / "w"
    folder.mkdir()
    write_tiny_weights(folder)
    out = tmp_path / "out"
    code = main(["sample", str(path), "--num", "2", "--out", str(out), "--steps", str(STEPS), "--weights",
                 str(folder), "--near", "0.2,0,0.12", "--type", "power"])
    assert code == 0, capsys.readouterr().err
    with np.load(out / "grasps.npz") as z:
        assert z["pool_index"].shape == (2,)
    assert sorted(p.name for p in out.iterdir()) == ["grasps.npz", "hand_000.obj", "hand_001.obj"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for bad, pattern in ((["--near", "0.2,0"], "three comma-separated"), (["--approach", "0,0,0"], "not all zero"),
                         (["--near", "0,0,0", "--no-refine"], "leave out --no-refine")):
        code = main(["sample", str(path), "--num", "2", "--out", str(out), "--steps", str(STEPS), "--weights",
                     str(folder), *bad])
        err = capsys.readouterr().err
        assert code != 0 and pattern in err and err.count("\n") == 1, err
        assert before == {p.name: p.stat().st_mtime_ns for p in out.iterdir()}  # nothing changed


def _touching_scene():
    """A fist and a sphere cloud (with normals) that overlaps its palm: a grasp that touches something."""
    data = load_hand_data()
    pose = named_pose("fist", data)[None]
    vertices, _, _ = forward(data, np.zeros((1, 3)), pose, np.zeros((1, 3)))
    centre = vertices[0].mean(0)
    radius = np.sort(np.linalg.norm(vertices[0] - centre, axis=1))[40]
    directions = np.random.default_rng(0).normal(size=(2048, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return data, pose, centre + radius * directions - centre, directions, -centre  # cloud centred at 0


def test_control_labels_move_with_the_object():
    """Training labels (measure_grasps on the grasp data) under a rotation augmentation equal the labels measured
    on the rotated grasp: the controls the network learns mean the same in every orientation."""
    from scipy.spatial.transform import Rotation

    from jhod_core.hand.rigid import rest_wrist, transform_params
    from jhod_core.steering import measure_grasps
    from training.data.grasps import GraspDataset, grasp_controls

    data, pose, cloud, normals, transl = _touching_scene()
    grasps = {"object_id": np.array(["a"]), "global_orient": np.zeros((1, 3)), "hand_pose": pose,
              "transl": transl[None], "keypoints": np.zeros((1, 21, 3))}
    ds = GraspDataset(grasps, np.array(["a"]), cloud[None].astype(np.float32))
    labels = grasp_controls(ds, normals[None])
    assert np.isfinite(labels["near"]).all() and labels["type_index"][0] == 0  # the palm touches: power
    rot, off = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix(), np.array([0.01, -0.02, 0.005])
    go, tr = transform_params(np.zeros((1, 3)), transl[None], rot, -off, rest_wrist(data))
    vertices, _, keypoints = forward(data, go, pose, tr)
    moved = measure_grasps(vertices, keypoints, ObjectSurface.from_points(cloud @ rot.T - off, normals @ rot.T),
                           data)
    np.testing.assert_allclose(moved["near"][0], rot @ labels["near"][0] - off, atol=1e-6)
    np.testing.assert_allclose(moved["approach"][0], rot @ labels["approach"][0], atol=1e-6)
    assert moved["type"][0] == "power"


def test_control_vectors_layout():
    from jhod_core.model import spec
    from jhod_core.steering import control_vectors

    rows = control_vectors(3, near=[[0.01, 0.0, -0.02], [np.nan] * 3, [0.0, 0.0, 0.0]],
                           approach=[[0.0, 0.0, -2.0], [0.0, 0.0, 0.0], [np.nan] * 3], type_index=[2, -1, 0])
    assert rows.shape == (3, spec.CONTROL_DIM)
    np.testing.assert_allclose(rows[0], [0.1, 0, -0.2, 1, 0, 0, -1, 1, 0, 0, 1, 1], atol=1e-6)
    np.testing.assert_array_equal(rows[1], 0)  # nothing given
    np.testing.assert_allclose(rows[2], [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1])
    # the wishes in the sampling frame: mirrored for left hands, the object's centre subtracted
    steering = Steering(near=(0.2, 0.0, 0.1), approach=(1.0, 0.0, 0.0), grasp_type="precision")
    row = steering.controls(np.array([-0.2, 0.0, 0.05]), MIRROR)
    np.testing.assert_allclose(row, [0, 0, 0.5, 1, -1, 0, 0, 1, 0, 1, 0, 1], atol=1e-6)


@pytest.fixture(scope="module")
def controlled_model(tmp_path_factory):
    return load_backend(write_tiny_weights(tmp_path_factory.mktemp("controlled"), controls=True), "numpy")


def test_a_model_with_controls_is_told_the_wishes(controlled_model, box):
    """Steering a model with controls: the network gets the wishes, and the choice is among CONTROLLED_POOL x as
    many samples, reproducibly."""
    from jhod_core.steering import CONTROLLED_POOL

    steering = Steering(approach=(0.0, 0.0, -1.0))
    steered = collect(iter_grasps(controlled_model, box, 3, seed=4, steps=STEPS, steering=steering))
    assert steered["pool_index"].max() < 3 * CONTROLLED_POOL
    pool = collect(iter_grasps(controlled_model, box, 3 * CONTROLLED_POOL, seed=4, steps=STEPS))
    differs = [np.abs(steered["transl"][k] - pool["transl"][i]).max() > 1e-6
               for k, i in enumerate(steered["pool_index"])]
    assert all(differs)  # the network was told: not a choice among the unsteered samples
    again = collect(iter_grasps(controlled_model, box, 3, seed=4, steps=STEPS, steering=steering))
    np.testing.assert_array_equal(again["transl"], steered["transl"])
