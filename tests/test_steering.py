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
