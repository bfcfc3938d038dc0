"""Anatomical joint frames and limits for MANO-format hands.

MANO's local rotations are axis-angle vectors in axes parallel to the model frame. To talk about
flexion we express each finger joint's rotation vector in an anatomical frame built from the rest
joints (works for the open hand and a real MANO alike):
- twist  = along the bone (joint -> child joint; distal joints use the parent bone direction),
- bend   = flexion axis, cross(bone, palmar normal): +bend curls the finger towards the palm,
- spread = cross(bend, bone): abduction/adduction in the palm plane.
The palmar normal is cross(index1 - wrist, pinky1 - wrist) for the right hand (about -y in MANO's
frame). The thumb's palmar direction is tilted towards the middle finger (THUMB_TILT_DEG) because the
thumb pad faces the fingers, not the palm's normal: thumb flexion moves the tip across the palm.

Angles are the components of the rotation vector in that frame: exact for rotations about one
axis, a close approximation for the combined small rotations that joint limits care about.

Limits (degrees, (min, max) of twist, spread, bend) combine manotorch's anatomy constraints, the
mano_pybullet/mano-urdf ranges and clinical range-of-motion tables
(../shared/reference/hand_model_facts.md 1.6): finger MCP flexion -20..90 with 20-30 degrees of
spread, PIP 0..100, DIP -10..90, small twist tolerances; thumb CMC with the wide cone opposition
needs. Left hands are handled by converting their pose to the right-hand convention first.

NumPy and torch arrays both work (the maths uses only `@`, `*` and `abs`-free hinge via maximum).
"""

from __future__ import annotations

import numpy as np

from .topology import FINGER_JOINTS, PARENTS

THUMB_TILT_DEG = 45.0

# (twist, spread, bend) as (min, max) degrees for joints 1..15 in MANO order.
_MCP = ((-15, 15), (-20, 20), (-20, 90))
_PIP = ((-8, 8), (-8, 8), (0, 100))
_DIP = ((-8, 8), (-8, 8), (-10, 90))
LIMITS_DEG = {
    "index": (_MCP, _PIP, _DIP),
    "middle": (((-15, 15), (-15, 15), (-20, 90)), _PIP, _DIP),
    "ring": (((-15, 15), (-15, 15), (-20, 90)), _PIP, _DIP),
    "pinky": (((-15, 15), (-25, 25), (-20, 90)), _PIP, _DIP),
    "thumb": (((-45, 45), (-30, 60), (-30, 60)), ((-10, 10), (-15, 15), (-10, 90)), ((-5, 5), (-8, 8), (-15, 90))),
}
LIMIT_SOURCES = (
    "manotorch AnatomyConstraintLossEE defaults; mano_pybullet HandModel20 / YuyangLee mano-urdf; "
    "clinical ROM tables (eatonhand.com, e-hand.com), via ../shared/reference/hand_model_facts.md 1.6"
)


def limits_array() -> np.ndarray:
    """(15, 3, 2) radians: [joint-1, (twist, spread, bend), (min, max)]."""
    out = np.zeros((15, 3, 2))
    for finger, joints in FINGER_JOINTS.items():
        for joint, lim in zip(joints, LIMITS_DEG[finger]):
            out[joint - 1] = np.deg2rad(np.array(lim, dtype=float))
    return out


def anatomical_frames(rest_joints: np.ndarray) -> np.ndarray:
    """(15, 3, 3) right-hand frames; columns are (twist, spread, bend) unit axes per joint 1..15."""
    j = np.asarray(rest_joints, dtype=float)
    palmar = np.cross(j[1] - j[0], j[7] - j[0])
    palmar /= np.linalg.norm(palmar)
    frames = np.zeros((15, 3, 3))
    for finger, chain in FINGER_JOINTS.items():
        for i, k in enumerate(chain):
            bone = (j[chain[i + 1]] - j[k]) if i + 1 < len(chain) else (j[k] - j[PARENTS[k]])
            normal = palmar
            if finger == "thumb":
                normal = _thumb_pad_direction(j, k, bone / np.linalg.norm(bone), palmar)
            twist = bone / np.linalg.norm(bone)
            bend = np.cross(twist, normal)
            bend /= np.linalg.norm(bend)
            spread = np.cross(bend, twist)
            frames[k - 1] = np.stack([twist, spread, bend], axis=1)
    return frames


def _thumb_pad_direction(j, k, twist, palmar):
    """Palmar normal tilted by THUMB_TILT_DEG towards the middle finger, across the thumb bone."""
    across = j[4] - j[k]
    across -= (across @ palmar) * palmar + (across @ twist) * twist
    across /= np.linalg.norm(across)
    t = np.deg2rad(THUMB_TILT_DEG)
    return np.cos(t) * palmar + np.sin(t) * across


def to_right_convention(hand_pose, side: str):
    """A left hand's 45 pose values in the right hand's convention ((ax, ay, az) -> (ax, -ay, -az))."""
    if side == "right":
        return hand_pose
    flip = np.tile([1.0, -1.0, -1.0], 15)
    if not isinstance(hand_pose, np.ndarray):  # torch tensor
        flip = hand_pose.new_tensor(flip)
    return hand_pose * flip


def joint_angles(hand_pose, frames):
    """(..., 45) right-convention axis-angle -> (..., 15, 3) (twist, spread, bend) radians."""
    rotvec = hand_pose.reshape(hand_pose.shape[:-1] + (15, 1, 3))
    if not isinstance(hand_pose, np.ndarray):
        frames = hand_pose.new_tensor(frames)
    return (rotvec @ frames)[..., 0, :]


def pose_from_angles(angles, frames):
    """Inverse of joint_angles: (..., 15, 3) anatomical angles -> (..., 45) axis-angle."""
    if not isinstance(angles, np.ndarray):
        frames = angles.new_tensor(frames)
    rotvec = frames @ angles[..., :, :, None]
    return rotvec.reshape(rotvec.shape[:-3] + (45,))


def limit_violation(hand_pose, frames, limits=None):
    """(..., 15, 3) radians by which each angle leaves its range (0 inside): a hinge penalty."""
    limits = limits_array() if limits is None else limits
    angles = joint_angles(hand_pose, frames)
    if isinstance(angles, np.ndarray):
        return np.maximum(limits[..., 0] - angles, 0) + np.maximum(angles - limits[..., 1], 0)
    lo, hi = angles.new_tensor(limits[..., 0]), angles.new_tensor(limits[..., 1])
    return (lo - angles).clamp(min=0) + (angles - hi).clamp(min=0)
