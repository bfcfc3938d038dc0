"""Retargeting grasps onto character rigs (jhod_core.retarget), without Blender: a character whose hand is the MANO
hand in another rest pose, with other bone rolls, must end up with exactly the grasp's joints."""

import numpy as np
import pytest
import trimesh

from jhod_core.errors import JHODError
from jhod_core.hand import load_hand_data
from jhod_core.hand.numpy_forward import forward, rodrigues
from jhod_core.hand.poses import named_pose
from jhod_core.hand.topology import JOINT_NAMES, PARENTS
from jhod_core.refine import ObjectSurface
from jhod_core.retarget import (PRESETS, check_mapping, close_fingers, finger_pose, mano_rest, preset_mapping,
                                retarget)


def bone_matrix(head, direction, roll):
    """A rig bone's rest matrix: y along the bone, x/z rolled by `roll` radians about it."""
    y = direction / np.linalg.norm(direction)
    x = np.cross(y, [0.0, 0.0, 1.0] if abs(y[2]) < 0.9 else [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    r = rodrigues((y * roll)[None])[0]
    x = r @ x
    m = np.eye(4)
    m[:3, :3] = np.stack([x, y, np.cross(x, y)], 1)
    m[:3, 3] = head
    return m


def character_like_mano(data, side, rest_pose, rest_orient, rest_transl, seed=0):
    """A 'character' whose hand is the MANO hand posed in `rest_pose` (its rest pose), bones rolled at random."""
    rng = np.random.default_rng(seed)
    _, joints, keypoints = forward(data, rest_orient[None], rest_pose[None], rest_transl[None])
    heads, dirs = mano_rest(data)
    tips = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}
    rest = {}
    kp = keypoints[0]
    j = joints[0]
    for k, name in enumerate(JOINT_NAMES):
        if name == "wrist":
            d = j[4] - j[0]
        else:
            children = [c for c, p in enumerate(PARENTS) if p == k]
            end = j[children[0]] if children else kp[tips[name[:-1]]]
            d = end - j[k]
        rest[f"bone_{name}"] = bone_matrix(j[k], d, rng.uniform(-np.pi, np.pi))
    return rest, {name: f"bone_{name}" for name in JOINT_NAMES}


def posed_heads(rest, mapping, result):
    """Forward kinematics of the character: wrist head placed, each child carried by its parent."""
    posed = {}
    for k, name in enumerate(JOINT_NAMES):
        bone = mapping[name]
        m = np.eye(4)
        m[:3, :3] = result["rotations"][bone]
        if PARENTS[k] < 0:
            m[:3, 3] = result["wrist_head"]
        else:
            parent = mapping[JOINT_NAMES[PARENTS[k]]]
            m[:3, 3] = (posed[parent] @ np.linalg.inv(rest[parent]) @ np.append(rest[bone][:3, 3], 1.0))[:3]
        posed[bone] = m
    return np.array([posed[mapping[n]][:3, 3] for n in JOINT_NAMES])


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_character_with_the_mano_hand_in_another_rest_pose_gets_the_grasp_exactly(side):
    data = load_hand_data(side=side)
    rest, mapping = character_like_mano(data, side, named_pose("relaxed", data), np.array([1.2, -0.3, 0.8]),
                                        np.array([0.3, -0.1, 1.1]))
    rng = np.random.default_rng(1)
    for _ in range(3):
        params = (rng.normal(0, 0.8, 3), 0.6 * named_pose("fist", data) + rng.normal(0, 0.1, 45),
                  rng.normal(0, 0.1, 3))
        result = retarget(data, params, side, rest, mapping)
        _, joints, _ = forward(data, *(p[None] for p in params))
        np.testing.assert_allclose(posed_heads(rest, mapping, result), joints[0], atol=1e-6)


def test_presets_name_every_joint_and_bad_mappings_are_refused():
    for preset in PRESETS:
        for side in ("right", "left"):
            mapping = preset_mapping(preset, side)
            assert set(JOINT_NAMES) <= set(mapping) and len(set(mapping[j] for j in JOINT_NAMES)) == 16
    assert preset_mapping("mixamo", "left")["index2"] == "mixamorig:LeftHandIndex2"
    assert preset_mapping("makehuman", "right")["thumb1"] == "finger1-1.R"
    assert preset_mapping("rigify", "left")["pinky3"] == "f_pinky.03.L"
    with pytest.raises(JHODError, match="unknown rig preset"):
        preset_mapping("maya", "right")
    mapping = preset_mapping("makehuman", "right")
    with pytest.raises(JHODError, match="none of the mapped hand bones"):
        check_mapping(mapping, {"spine", "head"})
    bones = set(mapping.values()) - {"finger2-3.R"}
    with pytest.raises(JHODError, match="lacks 1 mapped bone.*index3"):
        check_mapping(mapping, bones)


def test_finger_pose_bends_the_chain_about_each_joint():
    heads = [np.zeros(3), np.array([0.0, 0.04, 0.0]), np.array([0.0, 0.07, 0.0])]
    axes = [np.array([1.0, 0.0, 0.0])] * 3
    segments = [np.array([[0.0, 0.02, 0.0]]), np.array([[0.0, 0.055, 0.0]]), np.array([[0.0, 0.09, 0.0]])]
    bent = finger_pose(heads, axes, segments, [np.pi / 2, 0.0, np.pi / 2])
    np.testing.assert_allclose(bent[0][0], [0.0, 0.0, 0.02], atol=1e-12)
    np.testing.assert_allclose(bent[1][0], [0.0, 0.0, 0.055], atol=1e-12)
    np.testing.assert_allclose(bent[2][0], [0.0, -0.02, 0.07], atol=1e-12)  # tip folded back by the last joint


def test_close_fingers_touches_without_sinking():
    """A straight finger above a slab closes until it touches; a finger curled into the slab opens first."""
    slab = trimesh.creation.box((0.3, 0.3, 0.02))  # top face at z = 0.01
    surface = ObjectSurface.from_mesh(slab)
    axes = [np.array([-1.0, 0.0, 0.0])] * 3  # bending about -x turns the finger (+y) down towards the slab

    def line(a, b):
        return np.linspace(a, b, 8)

    for curl in (0.0, np.radians(25)):
        heads = [np.array([0.0, 0.0, 0.03]), np.array([0.0, 0.04, 0.03]), np.array([0.0, 0.07, 0.03])]
        segments = [line(heads[0], heads[1]), line(heads[1], heads[2]), line(heads[2], heads[2] + [0, 0.02, 0])]
        if curl:  # start curled: the tip is deep in the slab
            moved = finger_pose(heads, axes, [h[None] for h in heads], [curl] * 3)
            segments = finger_pose(heads, axes, segments, [curl] * 3)
            heads = [m[0] for m in moved]
            assert np.concatenate([surface.signed_distance(s)[0] for s in segments]).min() < -0.005
        angles = close_fingers({"index": {"heads": heads, "axes": axes, "segments": segments}}, surface)["index"]
        bent = finger_pose(heads, axes, segments, angles)
        sd = np.concatenate([surface.signed_distance(s)[0] for s in bent])
        assert sd.min() > -0.0015 and (sd <= 0.0025).any(), (curl, angles, sd.min())


def test_close_fingers_gets_a_finger_out_that_opening_sinks_deeper():
    """A finger bent up into a slab above it (its back sunk): opening would go deeper; it curls out instead."""
    slab = trimesh.creation.box((0.3, 0.3, 0.02))
    slab.apply_translation([0.0, 0.0, 0.046])  # bottom face at z = 0.036, above the finger
    surface = ObjectSurface.from_mesh(slab)
    axes = [np.array([-1.0, 0.0, 0.0])] * 3  # positive angles bend the finger down, away from the slab
    heads = [np.array([0.0, 0.0, 0.03]), np.array([0.0, 0.04, 0.03]), np.array([0.0, 0.07, 0.03])]
    segments = [np.linspace(heads[0], heads[1], 8), np.linspace(heads[1], heads[2], 8),
                np.linspace(heads[2], heads[2] + [0, 0.02, 0], 8)]
    moved = finger_pose(heads, axes, [h[None] for h in heads], [np.radians(-20)] * 3)
    segments = finger_pose(heads, axes, segments, [np.radians(-20)] * 3)
    heads = [m[0] for m in moved]
    assert np.concatenate([surface.signed_distance(s)[0] for s in segments]).min() < -0.005
    angles = close_fingers({"index": {"heads": heads, "axes": axes, "segments": segments}}, surface)["index"]
    bent = finger_pose(heads, axes, segments, angles)
    assert np.concatenate([surface.signed_distance(s)[0] for s in bent]).min() > -0.0015, angles
