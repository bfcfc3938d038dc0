"""Hand-editing controls an artist can turn: open/close the hand, curl each finger, fan the fingers, always
inside the anatomical joint limits (``joint_limits``).

``adjust_pose(hand_pose, rest_joints, side, close=..., curl={...}, spread=...)`` works on anatomical angles:
``close`` and ``curl`` (-1 .. 1) move each joint's flexion towards its open end (0, or the limit when 0 is outside)
or towards CLOSED_SHARE of its flexion limit; ``spread`` (-1 .. 1) fans the index, ring and little fingers away from
the middle finger (or together) towards their spread limits. 0 everywhere returns the pose unchanged; the result
is clipped into the limits. NumPy only (the Blender add-on's finger sliders).
"""

from __future__ import annotations

import numpy as np

from .joint_limits import anatomical_frames, joint_angles, limits_array, pose_from_angles, to_right_convention
from .model_file import MIRROR
from .topology import FINGER_JOINTS

CLOSED_SHARE = 0.85  # a "closed" joint bends to this share of its limit: a fist, not a cramp
TWIST, SPREAD, BEND = 0, 1, 2


def adjust_pose(hand_pose, rest_joints, side: str = "right", close: float = 0.0, curl: dict | None = None,
                spread: float = 0.0) -> np.ndarray:
    """The (45,) pose with the hand opened/closed, fingers curled and fanned; see the module docstring."""
    curl = curl or {}
    for name, value in (("close", close), ("spread", spread), *((f"curl of {f}", c) for f, c in curl.items())):
        if not -1.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be between -1 and 1, got {value}")
    unknown = set(curl) - set(FINGER_JOINTS)
    if unknown:
        raise ValueError(f"unknown finger(s) {', '.join(sorted(unknown))}; fingers: {', '.join(FINGER_JOINTS)}")
    if not close and not spread and not any(curl.values()):
        return np.asarray(hand_pose, dtype=np.float64).reshape(45).copy()
    joints = np.asarray(rest_joints, dtype=np.float64) * (MIRROR if side == "left" else 1.0)  # right-hand frame
    frames = anatomical_frames(joints)
    limits = limits_array()
    pose = to_right_convention(np.asarray(hand_pose, dtype=np.float64).reshape(45), side)
    angles = joint_angles(pose, frames)
    lo, hi = limits[:, BEND, 0], limits[:, BEND, 1]
    open_, closed = np.clip(0.0, lo, hi), CLOSED_SHARE * hi
    for finger, chain in FINGER_JOINTS.items():
        rows = np.asarray(chain) - 1
        for amount in (float(close), float(curl.get(finger, 0.0))):
            if amount:
                target = closed[rows] if amount > 0 else open_[rows]
                angles[rows, BEND] += abs(amount) * (target - angles[rows, BEND])
    if spread:
        for finger in ("index", "ring", "pinky"):
            k = FINGER_JOINTS[finger][0]
            twist, axis = frames[k - 1][:, TWIST], frames[k - 1][:, SPREAD]
            outward = joints[k] - joints[FINGER_JOINTS["middle"][0]]
            sign = np.sign(np.cross(axis, twist) @ outward)  # which way a positive spread turns the finger
            limit = limits[k - 1, SPREAD, 1 if sign * np.sign(spread) > 0 else 0]
            angles[k - 1, SPREAD] += abs(float(spread)) * (limit - angles[k - 1, SPREAD])
    angles = np.clip(angles, limits[..., 0], limits[..., 1])
    return to_right_convention(pose_from_angles(angles, frames), side)
