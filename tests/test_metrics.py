"""jhod_core.metrics on analytic cases.

The "object" is a 6 cm cube centred at the origin; the "hand" is a closed sphere of radius 3 cm
(UV sphere, whose pole is a vertex) pushed into the cube's top face (z = 3 cm) by a depth d, so
the overlap is a spherical cap: volume pi d^2 (3r - d) / 3, deepest hand point d below the face.
"""

import math

import numpy as np
import pytest
import trimesh

from jhod_core import metrics

HALF = 0.03  # cube half side, m
R = 0.03  # sphere radius, m


@pytest.fixture(scope="module")
def cube():
    return trimesh.creation.box((2 * HALF,) * 3)


def hand_sphere(depth, count=(64, 64)):
    """Sphere whose lowest point (a vertex) is ``depth`` m below the cube's top face (<0: above)."""
    sphere = trimesh.creation.uv_sphere(R, count=list(count))
    sphere.apply_translation([0, 0, HALF + R - depth])
    assert sphere.is_watertight and sphere.vertices[:, 2].min() == pytest.approx(HALF - depth, abs=1e-15)
    return sphere


def cap_volume_cm3(depth):
    d, r = depth * 100, R * 100
    return math.pi * d * d * (3 * r - d) / 3


# --------------------------------------------------------------------------- penetration, volume

@pytest.mark.parametrize("depth", [0.005, 0.01, 0.02])
def test_penetration_depth_closed_form(cube, depth):
    # the deepest hand vertex (the pole) is exactly `depth` from the nearest cube face
    assert metrics.penetration_depth(cube, hand_sphere(depth).vertices) == pytest.approx(depth * 100, abs=1e-9)


@pytest.mark.parametrize("depth", [0.005, 0.01, 0.02])
def test_intersection_volume_closed_form(cube, depth):
    # 1 mm grid on the overlap: measured error <= 0.42% over d = 0.5..3 cm (docs/metrics_validation.md);
    # 2% leaves margin for other grids while still catching a lost layer (~10% at d = 1 cm).
    volume = metrics.intersection_volume(cube, hand_sphere(depth), pitch=0.001)
    assert volume == pytest.approx(cap_volume_cm3(depth), rel=0.02)


def test_intersection_volume_is_symmetric_in_roles(cube):
    sphere = hand_sphere(0.01, count=(32, 32))
    forward = metrics.intersection_volume(cube, sphere, 0.002)
    assert forward > 0 and metrics.intersection_volume(sphere, cube, 0.002) == pytest.approx(forward)


def test_no_overlap_gives_zero(cube):
    sphere = hand_sphere(-0.002)  # 2 mm above the face
    assert metrics.penetration_depth(cube, sphere.vertices) == 0.0
    assert metrics.intersection_volume(cube, sphere) == 0.0
    far = hand_sphere(-0.5)  # bounding boxes do not even overlap
    assert metrics.intersection_volume(cube, far) == 0.0


def test_intersection_volume_open_object_uses_winding_numbers(cube):
    # remove the cube's bottom face (z = -3 cm): the cap at the top must still count
    keep = cube.triangles_center[:, 2] > -HALF + 1e-9
    open_cube = trimesh.Trimesh(cube.vertices, cube.faces[keep], process=False)
    assert not open_cube.is_watertight
    volume = metrics.intersection_volume(open_cube, hand_sphere(0.01, count=(32, 32)), pitch=0.002)
    assert volume == pytest.approx(cap_volume_cm3(0.01), rel=0.05)


# --------------------------------------------------------------------------- contact

def test_contact_threshold(cube):
    assert metrics.contact(cube, hand_sphere(0.01).vertices)  # penetrating
    assert metrics.contact(cube, hand_sphere(-0.004).vertices)  # 4 mm gap
    assert not metrics.contact(cube, hand_sphere(-0.01).vertices)  # 1 cm gap
    assert not metrics.contact(cube, hand_sphere(-0.004).vertices, threshold=0.003)


def test_fingers_in_contact_and_ratio(cube):
    near, far = hand_sphere(-0.003, count=(8, 8)), hand_sphere(-0.02, count=(8, 8))
    hand = np.vstack([near.vertices, far.vertices])
    n = len(near.vertices)
    ids = {"thumb": np.arange(n, 2 * n), "index": np.arange(0, n), "middle": [n]}
    assert metrics.fingers_in_contact(cube, hand, ids) == ["index"]
    assert metrics.contact_ratio([True, False, True, True]) == 0.75
    with pytest.raises(ValueError):
        metrics.contact_ratio([])


# --------------------------------------------------------------------------- simulation

def _damped_euler_fall(steps=35, dt=1 / 240, g=9.8, damping=0.04):
    """Bullet multibody integration: v += dt (g - c v - c v|v|) (default damping c = 0.04), x += v dt."""
    x = v = 0.0
    for _ in range(steps):
        v += dt * (g - damping * v - damping * v * abs(v))
        x += v * dt
    return x


def test_free_fall_matches_integrator_and_closed_form(cube, tmp_path):
    disp = metrics.simulation_displacement(cube, None, cache=tmp_path)
    # exact match with Bullet's damped semi-implicit Euler (measured agreement ~1e-11 m) ...
    assert disp == pytest.approx(_damped_euler_fall() * 100, abs=1e-6)
    # ... which is 0.26 cm (2.5%) above the continuous 1/2 g t^2 = 10.42 cm
    closed_form = 0.5 * 9.8 * (35 / 240) ** 2 * 100
    assert closed_form == pytest.approx(10.421, abs=1e-3)
    assert 0.2 < disp - closed_form < 0.3
    assert metrics.simulation_displacement(cube, None, gravity_dir=(0, 0, -5), cache=tmp_path) == pytest.approx(disp)


def test_supported_object_barely_moves_and_is_deterministic(cube, tmp_path):
    # a static plate 1 mm below the cube along gravity (+y)
    plate = trimesh.creation.box((0.1, 0.01, 0.1))
    plate.apply_translation([0, HALF + 0.005 + 0.001, 0])
    first = metrics.simulation_displacement(cube, plate, cache=tmp_path)
    # cm, vs 10.7 cm free fall; the cube is actually pushed ~1.4 mm *up*: Bullet's contact skin keeps
    # it ~2.4 mm off the plate (docs/metrics_validation.md)
    assert first < 0.3
    assert metrics.simulation_displacement(cube, plate, cache=tmp_path) == first
    # pulled sideways, the plate does not hold: friction alone cannot stop a 1 g pull over 0.15 s
    assert metrics.simulation_displacement(cube, plate, gravity_dir=(0, -1, 0), cache=tmp_path) > 10


def test_six_directions_enclosed_vs_free(cube, tmp_path):
    shell = trimesh.creation.box((2 * HALF + 0.004,) * 3)  # static closed shell, 2 mm gap all round
    assert metrics.simulation_displacement_6dir(cube, shell, cache=tmp_path) < 0.3
    free = metrics.simulation_displacement_6dir(cube, None, cache=tmp_path)
    assert free == pytest.approx(_damped_euler_fall() * 100, abs=1e-6)


def test_vhacd_decomposition_is_cached(cube, tmp_path):
    path = metrics.vhacd_decomposition(cube, tmp_path)
    mtime = path.stat().st_mtime_ns
    assert metrics.vhacd_decomposition(cube, tmp_path) == path and path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no leftovers from the work dir
    other = metrics.vhacd_decomposition(trimesh.creation.box((0.05, 0.06, 0.06)), tmp_path)
    assert other != path
    assert metrics.vhacd_decomposition(cube) != path  # default: per-process directory


def test_simulation_prints_nothing(cube, tmp_path, capfd):
    metrics.simulation_displacement(trimesh.creation.box((0.05, 0.05, 0.07)), None, cache=tmp_path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --------------------------------------------------------------------------- diversity

def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q * np.linalg.det(q)


def _posed_copies(base, n, noise, rng):
    """n noisy copies of keypoints ``base`` (21, 3), each under a random rotation + translation."""
    out = []
    for _ in range(n):
        kp = base + rng.normal(0, noise, base.shape)
        out.append(kp @ _random_rotation(rng).T + rng.normal(0, 0.5, 3))
    return np.array(out)


def test_diversity_separated_clusters_reach_ln_k():
    rng = np.random.default_rng(0)
    bases = rng.normal(0, 0.05, (20, 21, 3))
    keypoints = np.concatenate([_posed_copies(b, 10, 0.0005, rng) for b in bases])
    entropy, cluster_size = metrics.diversity(keypoints)
    assert entropy == pytest.approx(math.log(20), abs=1e-9)
    # cluster size = mean distance (cm) to the centroid of the true clusters in the canonical frame
    canon = metrics.canonical_keypoints(keypoints * 100).reshape(20, 10, 63)
    expected = np.linalg.norm(canon - canon.mean(axis=1, keepdims=True), axis=-1).mean()
    assert cluster_size == pytest.approx(expected, rel=1e-6)
    assert metrics.diversity(keypoints) == (entropy, cluster_size)  # deterministic


def test_diversity_identical_grasps_and_small_n():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 0.05, (21, 3))
    same = _posed_copies(base, 30, 0.0, rng)  # one grasp seen in 30 global poses
    entropy, cluster_size = metrics.diversity(same)
    assert entropy == pytest.approx(0.0, abs=1e-12) and cluster_size == pytest.approx(0.0, abs=1e-9)
    few = rng.normal(0, 0.05, (5, 21, 3))  # N < k: k = N, every grasp its own cluster
    entropy, cluster_size = metrics.diversity(few)
    assert entropy == pytest.approx(math.log(5)) and cluster_size == pytest.approx(0.0, abs=1e-9)


def test_canonical_keypoints_frame():
    rng = np.random.default_rng(2)
    kp = rng.normal(0, 0.05, (21, 3))
    canon = metrics.canonical_keypoints(kp)
    np.testing.assert_allclose(canon[0], 0, atol=1e-15)
    assert abs(canon[5, 2]) < 1e-12 and abs(canon[17, 2]) < 1e-12  # index/pinky MCP in the z = 0 plane
    assert canon[5, 1] == pytest.approx(-canon[17, 1])  # x bisects them
    moved = kp @ _random_rotation(rng).T + [1, 2, 3]
    np.testing.assert_allclose(metrics.canonical_keypoints(moved), canon, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        metrics.diversity(rng.normal(size=(4, 16, 3)))


# --------------------------------------------------------------------------- evaluate_grasp

def test_evaluate_grasp_combines_metrics(cube, tmp_path):
    sphere = hand_sphere(0.01, count=(32, 32))
    result = metrics.evaluate_grasp(cube, sphere.vertices, sphere.faces, sim=False, pitch=0.002)
    assert result == {
        "penetration_depth_cm": pytest.approx(1.0),
        "intersection_volume_cm3": metrics.intersection_volume(cube, sphere, 0.002),
        "contact": True,
        "sim_displacement_cm": None,
        "sim_displacement_6dir_cm": None,
    }
    with_sim = metrics.evaluate_grasp(cube, sphere.vertices, sphere.faces, pitch=0.002, cache=tmp_path)
    alone = metrics.simulation_displacement(cube, sphere, cache=tmp_path)
    assert with_sim["sim_displacement_cm"] == pytest.approx(alone)
    assert with_sim["sim_displacement_6dir_cm"] >= 0


def test_frechet_distance():
    from jhod_core.metrics import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) < 1e-9
    # shifted mean by (1, 0, 0), same covariance: FID = 1; doubled std in 1-d: (1 - 2)^2 = 1
    assert abs(frechet_distance(a, a + (1.0, 0.0, 0.0)) - 1.0) < 1e-6
    b = rng.normal(size=(200_000, 1))
    assert abs(frechet_distance(b, 2 * b) - 1.0) < 1e-2


def test_protocol_switches_reproduce_the_published_definitions():
    """Two boxes overlapping by a known slab: the filled 1 mm grid gets its volume, the binvox grid too (to its
    voxel size), GraspTTA's surface voxels only a shell of it; OakInk's vertex depth is never below the surface
    depth; HALO's contact needs a penetrating vertex."""
    obj = trimesh.creation.box((0.06, 0.06, 0.06))
    hand = trimesh.creation.box((0.04, 0.04, 0.04))
    hand.apply_translation((0.0, 0.0, 0.035))  # 15 mm deep into the object's top
    overlap = 0.04 * 0.04 * 0.015 * 1e6  # cm^3
    jhod = metrics.evaluate_grasp(obj, hand.vertices, hand.faces, sim=False, protocol="jhod")
    halo = metrics.evaluate_grasp(obj, hand.vertices, hand.faces, sim=False, protocol="halo")
    tta = metrics.evaluate_grasp(obj, hand.vertices, hand.faces, sim=False, protocol="grasptta")
    oak = metrics.evaluate_grasp(obj, hand.vertices, hand.faces, sim=False, protocol="oakink")
    assert abs(jhod["intersection_volume_cm3"] - overlap) / overlap < 0.05
    assert jhod["intersection_volume_cm3"] == halo["intersection_volume_cm3"]
    assert abs(oak["intersection_volume_cm3"] - overlap) / overlap < 0.15  # 128 cells: 0.47 mm voxels here
    assert tta["intersection_volume_cm3"] < 0.6 * overlap  # a surface shell of 5 mm voxels
    assert abs(jhod["penetration_depth_cm"] - 1.0) < 1e-6  # the deepest corner is 1 cm from the side faces
    assert oak["penetration_depth_cm"] >= jhod["penetration_depth_cm"]  # to the nearest object vertex
    near = trimesh.creation.box((0.04, 0.04, 0.04))
    near.apply_translation((0.0, 0.0, 0.052))  # 2 mm above the object: touching for GraspTTA, not for HALO
    assert metrics.evaluate_grasp(obj, near.vertices, near.faces, sim=False)["contact"]
    assert not metrics.evaluate_grasp(obj, near.vertices, near.faces, sim=False, protocol="halo")["contact"]
    with pytest.raises(ValueError, match="unknown metric protocol"):
        metrics.evaluate_grasp(obj, near.vertices, near.faces, sim=False, protocol="dexgraspnet")
