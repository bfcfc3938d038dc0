"""Rigid moves of MANO parameters and the post-sampling grasp refinement."""

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from jhod_core.geometry.inside import signed_distance
from jhod_core.hand import load_hand_data, numpy_forward
from jhod_core.hand.joint_limits import anatomical_frames, limit_violation
from jhod_core.hand.poses import named_pose
from jhod_core.hand.regions import finger_vertex_ids
from jhod_core.hand.rigid import rest_wrist, transform_params
from jhod_core.refine import GraspRefiner, ObjectSurface

DATA = load_hand_data()


def test_transform_params_moves_the_posed_hand_rigidly():
    rng = np.random.default_rng(0)
    go, pose, tr = rng.normal(size=(4, 3)), 0.3 * rng.normal(size=(4, 45)), 0.1 * rng.normal(size=(4, 3))
    rot, shift = Rotation.random(4, random_state=1).as_matrix(), rng.normal(size=(4, 3))
    before = numpy_forward(DATA, global_orient=go, hand_pose=pose, transl=tr)[0]
    go2, tr2 = transform_params(go, tr, rot, shift, rest_wrist(DATA))
    after = numpy_forward(DATA, global_orient=go2, hand_pose=pose, transl=tr2)[0]
    np.testing.assert_allclose(after, np.einsum("bij,bvj->bvi", rot, before) + shift[:, None], atol=1e-7)


def hand_over_sphere(gap: float, radius: float = 0.04):
    """A relaxed right hand whose palm faces a sphere `gap` metres below the palm centre (negative: inside)."""
    pose = named_pose("relaxed", DATA)
    params = np.concatenate([np.zeros(3), pose, np.zeros(3)])[None]
    verts, joints, _ = numpy_forward(DATA, hand_pose=pose)
    palm = joints[0, [0, 1, 4, 7, 10]].mean(0)
    palmar = np.cross(joints[0, 1] - joints[0, 0], joints[0, 7] - joints[0, 0])
    palmar /= np.linalg.norm(palmar)
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    sphere.apply_translation(palm + palmar * (radius + gap))
    return params, sphere


def depth_and_digits(params, mesh):
    verts = numpy_forward(DATA, global_orient=params[:, :3], hand_pose=params[:, 3:48], transl=params[:, 48:51])[0][0]
    sd = signed_distance(mesh, verts)
    touching = sd < 0.005
    digits = sum(touching[ids].any() for ids in finger_vertex_ids(DATA).values())
    return max(-sd.min(), 0.0), digits


def test_refinement_closes_fingers_onto_a_sphere_without_sinking_in():
    params, sphere = hand_over_sphere(gap=0.012)
    depth0, digits0 = depth_and_digits(params, sphere)
    refined = GraspRefiner(DATA)(params, ObjectSurface.from_mesh(sphere))
    depth, digits = depth_and_digits(refined, sphere)
    assert digits > digits0 and digits >= 4
    assert depth <= 0.004
    frames = anatomical_frames(DATA.rest_joints)
    assert np.rad2deg(limit_violation(refined[0, 3:48], frames).max()) < 0.5


def test_fingers_out_of_reach_of_the_object_curl_to_a_relaxed_flexion():
    """A finger that comes no nearer than CURL_GAP at any flexion curls towards RELAXED_FLEXION (left straight, it read
    as a pointing finger; before that it was bent 30 degrees back); the thumb, and a finger curled that far
    already, keep their pose."""
    from jhod_core.refine import FINGER_JOINTS, RELAXED_FLEXION

    params, sphere = hand_over_sphere(gap=0.012)
    refiner = GraspRefiner(DATA)
    far = params.copy()
    far[:, 48:51] += [0.0, 0.0, 0.3]  # 30 cm off: no finger can reach
    flat = refiner._angles(np.zeros((1, 45)))
    far[:, 3:48] = refiner._with_offsets(flat, np.deg2rad([[0.0, 0.0, 55.0, 0.0, 0.0]]))  # the middle finger curled

    def flexion(pose):
        angles = refiner._angles(pose)
        return {f: np.rad2deg(angles[0, np.asarray(j) - 1, 2].mean()) for f, j in FINGER_JOINTS.items()}

    before, after = flexion(far[:, 3:48]), flexion(refiner.close_fingers(far, ObjectSurface.from_mesh(sphere))[:, 3:48])
    assert after["thumb"] == pytest.approx(before["thumb"], abs=1e-9)
    assert after["middle"] == pytest.approx(before["middle"], abs=1e-9) and before["middle"] > 45
    for finger in ("index", "ring", "pinky"):
        assert before[finger] < 10 and abs(after[finger] - np.rad2deg(RELAXED_FLEXION)) < 6, (finger, after)


def test_refinement_pulls_a_sunken_hand_out():
    params, sphere = hand_over_sphere(gap=-0.015)
    depth0, _ = depth_and_digits(params, sphere)
    refined = GraspRefiner(DATA)(params, ObjectSurface.from_mesh(sphere))
    depth, digits = depth_and_digits(refined, sphere)
    assert depth0 > 0.015 and depth <= 0.004 and digits >= 3


def test_refinement_is_deterministic_and_works_from_points():
    params, sphere = hand_over_sphere(gap=0.006)
    points = trimesh.sample.sample_surface_even(sphere, 3000, seed=0)[0]
    surface = ObjectSurface.from_points(points)
    outward = np.einsum("ni,ni->n", surface.normals, surface.points - sphere.centroid)
    assert (outward > 0).all()
    a, b = GraspRefiner(DATA)(params, surface), GraspRefiner(DATA)(params, surface)
    np.testing.assert_array_equal(a, b)
    assert depth_and_digits(a, sphere)[1] >= 4


def test_tidy_lifts_every_vertex_and_leaves_clean_grasps_alone():
    from jhod_core.refine import TIDY_DEPTH

    refiner = GraspRefiner(DATA)
    params, sphere = hand_over_sphere(gap=0.012)
    surface = ObjectSurface.from_mesh(sphere)
    sunk = params.copy()
    sunk[:, 3:48] = refiner._with_offsets(refiner._angles(sunk[:, 3:48]), np.full((1, 5), np.deg2rad(25.0)))
    away = params.copy()
    away[:, 48:51] -= sphere.centroid / np.linalg.norm(sphere.centroid) * 0.03
    grasps = np.concatenate([sunk, away])  # fingers curled into the sphere; a hand above it
    before = [depth_and_digits(g[None], sphere)[0] for g in grasps]
    tidied = refiner.tidy(grasps, surface)
    after = [depth_and_digits(g[None], sphere)[0] for g in tidied]
    assert before[0] > 2 * TIDY_DEPTH and after[0] <= TIDY_DEPTH + 0.001  # surface samples: ~1 mm
    assert before[1] == 0 and depth_and_digits(tidied[:1], sphere)[1] >= 3  # lifted, still holding on
    np.testing.assert_array_equal(tidied[1], grasps[1])


def test_tidy_never_leaves_a_hand_touching_nothing():
    refiner = GraspRefiner(DATA)
    params, sphere = hand_over_sphere(gap=0.0)
    surface = ObjectSurface.from_mesh(sphere)
    moved = np.repeat(params, 2, axis=0)
    moved[0, 48:51] -= sphere.centroid / np.linalg.norm(sphere.centroid) * 0.05  # 5 cm off: hovering
    moved[1, 48:51] -= sphere.centroid / np.linalg.norm(sphere.centroid) * 0.001  # 1 mm off: still touching
    kept = refiner._touching_or(moved.copy(), np.repeat(params, 2, axis=0), surface)
    np.testing.assert_array_equal(kept[0], params[0])
    np.testing.assert_array_equal(kept[1], moved[1])


def test_refiner_rejects_left_hands():
    from jhod_core.hand import mirror_to_left

    with pytest.raises(ValueError, match="right hands"):
        GraspRefiner(mirror_to_left(DATA))


def test_numpy_nearest_matches_the_kd_tree():
    from scipy.spatial import cKDTree

    from jhod_core.refine import NumpyNearest

    rng = np.random.default_rng(0)
    sphere = rng.normal(size=(3000, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    for points, queries in ((rng.random((500, 3)), rng.random((300, 3)) * 1.4 - 0.2),   # volume, some outside
                            (0.04 * sphere, rng.normal(scale=0.05, size=(2000, 3))),   # a surface, like objects
                            (0.04 * sphere + [10, -5, 3], rng.normal(scale=0.05, size=(2000, 3)) + [10, -5, 3])):
        for bound in (np.inf, 0.05, 0.01):
            d_ref, i_ref = cKDTree(points).query(queries, distance_upper_bound=bound)
            d, i = NumpyNearest(points).query(queries, distance_upper_bound=bound)
            np.testing.assert_array_equal(i, i_ref)
            np.testing.assert_allclose(d, d_ref, atol=1e-9)
    d, i = NumpyNearest(points).query(np.empty((0, 3)))
    assert d.shape == i.shape == (0,)


def test_signed_distance_is_not_fooled_beyond_an_apex():
    """Around a cone's tip the nearest sample's plane called points 1-2 cm away "inside"; they are outside now,
    about as far as the mesh says, and points under the surface stay inside."""
    from jhod_core.geometry.sampling import sample_surface

    cone = trimesh.creation.cone(radius=0.03, height=0.1, sections=64)
    points, normals, _ = sample_surface(cone, 8192, seed=0)
    surface = ObjectSurface(points, normals)
    rng = np.random.default_rng(0)
    near_tip = np.array([0.0, 0.0, 0.1]) + rng.normal(size=(20000, 3)) * 0.01
    truth = signed_distance(cone, near_tip)
    ours, _ = surface.signed_distance(near_tip)
    known = np.isfinite(ours)
    plane_surface = ObjectSurface(points, normals)
    plane_surface.radius = np.inf  # discs without an edge: the plane distance (x - p) . n everywhere
    plane, _ = plane_surface.signed_distance(near_tip)
    assert ((plane < -0.003) & (truth > 0.003)).sum() > 500  # what the plane distance did
    assert ((ours < -0.003) & (truth > 0.003) & known).sum() < 20
    assert ((ours > 0.003) & (truth < -0.003) & known).sum() == 0
    far = known & (truth > 0.005)
    assert np.median(np.abs(ours[far] - truth[far])) < 0.001
    under = cone.sample(3000, return_index=False) * 0.98 + np.array([0, 0, 0.002])  # just inside the surface
    depth = signed_distance(cone, under)
    assert (surface.signed_distance(under[depth < -0.001])[0] < 0).mean() > 0.99


def test_refinement_never_leaves_a_hand_touching_nothing():
    """A sample sunk 6 cm into a held-out kettle: pushed out, its fingers opened out of the kettle and the hand
    hovered 5.7 mm away (the evaluation's one hand touching nothing); it touches now."""
    from pathlib import Path

    from jhod_core.pipeline import prepare_object

    mesh = trimesh.load(Path(__file__).resolve().parents[1] / "data/objects_everyday/meshes/ev_kettle_0194.ply")
    prepared = prepare_object(mesh, seed=0)
    surface = ObjectSurface.from_points(prepared.points, prepared.normals)
    sample = np.array([[
        -1.140284, -1.331946, 0.112786, 0.292606, -0.098107, 0.67431, -0.011957, 0.056878, 1.179618, 0.063506,
        -0.056755, -0.374305, -0.307438, -0.118262, 1.119748, -0.07297, 0.040735, 0.239747, -0.004768, 0.029709,
        -0.258799, -0.6512, 0.221753, 0.770649, -0.367982, 0.124499, 0.392044, -0.091502, 0.114533, 0.025812,
        -0.420175, -0.179985, 0.615674, -0.139591, -0.062417, 0.561399, 0.001142, -0.107295, -0.005028, -0.247693,
        -0.774632, 0.149122, -0.026083, -0.036241, 0.011137, 0.104294, -0.160169, 0.212261, -0.033353, 0.103876,
        -0.034626]])
    data = load_hand_data()
    refiner = GraspRefiner(data)

    def closest(params):
        verts = numpy_forward(data, global_orient=params[:, :3], hand_pose=params[:, 3:48],
                              transl=params[:, 48:])[0][0]
        return signed_distance(mesh, verts).min()

    assert closest(sample) < -0.05  # sunk in
    before_last_approach = refiner.close_fingers(refiner.push_out(refiner.approach(sample, surface), surface), surface)
    assert closest(before_last_approach) > 0.005  # what the refiner used to return
    assert abs(closest(refiner(sample, surface))) < 0.002


@pytest.mark.parametrize("grasp_type", ["power", "precision", "pinch"])
def test_refinement_keeps_an_asked_grasp_type(grasp_type):
    """Asked for a type, refinement keeps the contact pattern that steering's classifier reads: a precision grasp
    or a pinch holds the palm off the object, a pinch closes the thumb and index finger only; the hand that
    refining for holding alone makes a wrap of (palm on the sphere) is the same sample for all three."""
    from jhod_core.steering import measure_grasps

    params, sphere = hand_over_sphere(gap=0.0, radius=0.03)
    surface = ObjectSurface.from_mesh(sphere)

    def kind(p):
        verts, _, keypoints = numpy_forward(DATA, global_orient=p[:, :3], hand_pose=p[:, 3:48], transl=p[:, 48:])
        return measure_grasps(verts, keypoints, surface, DATA)["type"][0]

    refiner = GraspRefiner(DATA)
    assert kind(refiner(params, surface)) == "power"
    refined = refiner(params, surface, grasp_type)
    assert kind(refined) == grasp_type
    depth, digits = depth_and_digits(refined, sphere)
    assert depth <= 0.004 and digits >= (2 if grasp_type == "pinch" else 3)
    if grasp_type == "pinch":  # a pinch of thumb and index, not a hand that touches with one finger
        verts = numpy_forward(DATA, global_orient=refined[:, :3], hand_pose=refined[:, 3:48],
                              transl=refined[:, 48:])[0][0]
        sd = signed_distance(sphere, verts)
        assert all((sd[finger_vertex_ids(DATA)[f]] < 0.003).any() for f in ("thumb", "index"))


def palm_frame():
    """Centre, palmar normal and across-the-palm direction (index to pinky) of the relaxed right hand."""
    pose = named_pose("relaxed", DATA)
    joints = numpy_forward(DATA, hand_pose=pose)[1][0]
    centre = joints[[0, 1, 4, 7, 10]].mean(0)
    palmar = np.cross(joints[1] - joints[0], joints[7] - joints[0])
    across = joints[10] - joints[1]
    return np.concatenate([np.zeros(3), pose, np.zeros(3)])[None], centre, palmar / np.linalg.norm(palmar), \
        across / np.linalg.norm(across)




def test_the_object_inside_the_hand_is_seen_where_the_hand_vertices_miss_it():
    from jhod_core.refine import object_depth_in_hands

    params, centre, palmar, across = palm_frame()
    verts = numpy_forward(DATA, hand_pose=params[:, 3:48])[0]
    # a 4 mm plate that cuts through the palm, from the palmar side to the back of the hand
    plate = trimesh.creation.box(extents=(0.004, 0.03, 0.06))
    turn = np.eye(4)
    turn[:3, :3] = np.stack([across, np.cross(palmar, across), palmar], axis=1)
    plate.apply_transform(turn)
    plate.apply_translation(centre - 0.01 * palmar)
    surface = ObjectSurface.from_mesh(plate)
    vertex_depth = max(0.0, -signed_distance(plate, verts[0]).min())
    assert vertex_depth <= 0.0025  # no hand vertex is deeper than the plate's half thickness
    in_hand = object_depth_in_hands(verts, DATA.closed_faces, surface)[0]
    assert in_hand >= 0.006
    refiner = GraspRefiner(DATA)
    assert refiner.depths(verts, surface)[0] == pytest.approx(in_hand)
    # the same plate beside the hand: nothing inside
    plate.apply_translation(0.08 * palmar)
    assert object_depth_in_hands(verts, DATA.closed_faces, ObjectSurface.from_mesh(plate))[0] == 0.0


def test_clear_palm_moves_a_handle_out_of_the_palm_and_leaves_other_hands_alone():
    from jhod_core.metrics import intersection_volume

    params, centre, palmar, across = palm_frame()
    handle = trimesh.creation.cylinder(radius=0.006, height=0.14, sections=32)
    turn = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], across)
    handle.apply_transform(turn)
    handle.apply_translation(centre - 0.003 * palmar)  # in the palm's flesh
    surface = ObjectSurface.from_mesh(handle)
    refiner = GraspRefiner(DATA)

    def volume(p):
        verts = numpy_forward(DATA, global_orient=p[:, :3], hand_pose=p[:, 3:48], transl=p[:, 48:])[0][0]
        return intersection_volume(handle, trimesh.Trimesh(verts, DATA.closed_faces, process=False))

    clear = params.copy()
    clear[0, 48:] += 0.05 * palmar  # the hand well away from the handle
    both = np.concatenate([params, clear])
    moved = refiner.clear_palm(both, surface)
    assert volume(params) > 5.0
    assert volume(moved[:1]) < 0.2 * volume(params)
    shift = moved[0, 48:] - params[0, 48:]
    assert shift @ palmar < -0.005  # back, away from the palmar side: the handle ends in front of the palm
    np.testing.assert_array_equal(moved[1], clear[0])


def test_vertex_normals_of_a_batch_equal_each_mesh_alone():
    from jhod_core.geometry.normals import vertex_normals

    turns = Rotation.random(3, random_state=0).as_matrix()
    verts = np.einsum("bij,vj->bvi", turns, DATA.v_template)
    batch = vertex_normals(verts, DATA.closed_faces)
    for one, normals, turn in zip(verts, batch, turns):
        np.testing.assert_array_equal(vertex_normals(one, DATA.closed_faces), normals)
        np.testing.assert_allclose(normals, vertex_normals(DATA.v_template, DATA.closed_faces) @ turn.T, atol=1e-9)
    mesh = trimesh.Trimesh(verts[0], DATA.closed_faces, process=False)  # outward, as trimesh's (angle-weighted)
    assert np.median(np.einsum("ij,ij->i", batch[0], mesh.vertex_normals)) > 0.95
    # the normals of a few vertices alone (from the faces around them): the same numbers
    ids = np.array([0, 5, 777, int(np.bincount(DATA.closed_faces.ravel()).argmax())])  # the last: the wrist's cap
    np.testing.assert_array_equal(vertex_normals(verts, DATA.closed_faces, ids), batch[:, ids])


def test_near_samples_hold_every_sample_within_reach():
    """The surface's grid of cells returns every sample within ``reach`` of the points (a superset), for points
    inside the object's box and beyond it."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    surface = ObjectSurface.from_mesh(sphere, n=2048)
    rng = np.random.default_rng(3)
    for points in (rng.normal(0.0, 0.03, (40, 3)), rng.normal(0.0, 0.03, (40, 3)) + [0.06, 0.0, 0.0],
                   np.array([[0.2, 0.2, 0.2]])):
        for reach in (0.005, 0.01):
            near = surface.near_samples(points, reach)
            d = np.linalg.norm(surface.points[:, None] - points[None], axis=2).min(axis=1)
            assert set(np.flatnonzero(d <= reach)) <= set(near.tolist())
            assert len(np.unique(near)) == len(near) and len(near) < len(surface.points) or (d <= reach).all()
    assert len(surface.near_samples(np.array([[0.2, 0.2, 0.2]]), 0.01)) == 0


def test_object_depth_in_hands_matches_a_plain_search_for_a_part_and_with_known_distances():
    """The grid and the vertices near the object only skip work: the same depths as measuring every sample
    against every vertex, for the whole hand and for the palm alone."""
    from jhod_core.geometry.normals import vertex_normals
    from jhod_core.refine import IN_HAND_REACH, object_depth_in_hands

    params, sphere = hand_over_sphere(gap=-0.012)
    rng = np.random.default_rng(1)
    params = np.repeat(params, 4, axis=0)
    params[:, 48:] += rng.normal(0.0, 0.006, size=(4, 3))
    verts = numpy_forward(DATA, global_orient=params[:, :3], hand_pose=params[:, 3:48], transl=params[:, 48:])[0]
    surface = ObjectSurface.from_mesh(sphere, n=2048)
    refiner = GraspRefiner(DATA)

    nearest = []  # per hand: each sample's nearest vertex, its distance, the point-normal distance
    for hand, normal in zip(verts, vertex_normals(verts, DATA.closed_faces)):
        d = np.linalg.norm(surface.points[:, None] - hand[None], axis=2)
        k = d.argmin(axis=1)
        nearest.append((k, d[np.arange(len(k)), k], np.einsum("ni,ni->n", surface.points - hand[k], normal[k])))

    def plain(ids):
        return np.array([max(0.0, -sd[(dist <= IN_HAND_REACH) & np.isin(k, ids)].min(initial=0.0))
                         for k, dist, sd in nearest])

    sd = surface.signed_distance(verts)[0]
    whole = plain(np.arange(len(DATA.v_template)))
    assert whole.max() > 0.002
    for known in (None, sd):
        np.testing.assert_allclose(object_depth_in_hands(verts, DATA.closed_faces, surface, sd=known), whole,
                                   atol=1e-9)
        fingers = np.full(len(DATA.v_template), -1)
        for f, ids in enumerate(finger_vertex_ids(DATA).values()):
            fingers[ids] = f
        for labels in (refiner.palm_part, fingers):  # per part: each part's own samples
            by_part = object_depth_in_hands(verts, DATA.closed_faces, surface, parts=labels, sd=known)
            assert by_part.shape == (len(verts), labels.max() + 1)
            for part in range(labels.max() + 1):
                np.testing.assert_allclose(by_part[:, part], plain(np.flatnonzero(labels == part)), atol=1e-9)
    assert object_depth_in_hands(verts, DATA.closed_faces, surface, parts=refiner.palm_part)[:, 0].max() > 0.002

