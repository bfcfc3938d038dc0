"""Named hand poses written as anatomical angles (degrees), turned into MANO axis-angle per hand.

Writing poses as (twist, spread, bend) keeps them meaningful on any MANO-format hand: the frames
come from that hand's own rest joints (see joint_limits).
"""

from __future__ import annotations

import numpy as np

from .joint_limits import anatomical_frames, pose_from_angles, to_right_convention
from .model_file import HandData
from .topology import FINGER_JOINTS

# finger -> angles (twist, spread, bend) of its three joints, palm outwards; missing = 0.
NAMED_POSES_DEG = {
    "flat": {},
    "relaxed": {f: ((0, 0, 15), (0, 0, 20), (0, 0, 10)) for f in ("index", "middle", "ring", "pinky")}
    | {"thumb": ((0, 15, 10), (0, 0, 10), (0, 0, 10))},
    "fist": {f: ((0, 0, 85), (0, 0, 95), (0, 0, 60)) for f in ("index", "middle", "ring", "pinky")}
    | {"thumb": ((20, 30, 25), (0, 0, 50), (0, 0, 45))},
    "pinch": {"index": ((0, 0, 45), (0, 0, 45), (0, 0, 25)),
              "middle": ((0, 0, 40), (0, 0, 55), (0, 0, 25)),
              "ring": ((0, 0, 45), (0, 0, 60), (0, 0, 30)),
              "pinky": ((0, 0, 50), (0, 0, 60), (0, 0, 30)),
              "thumb": ((25, 35, 20), (0, 0, 20), (0, 0, 20))},
}


def named_pose(name: str, data: HandData) -> np.ndarray:
    """(45,) flat-hand-relative axis-angle for `data`'s side."""
    if name not in NAMED_POSES_DEG:
        raise KeyError(f"unknown pose {name!r}; choose from {', '.join(NAMED_POSES_DEG)}")
    angles = np.zeros((15, 3))
    for finger, joint_angles in NAMED_POSES_DEG[name].items():
        for joint, a in zip(FINGER_JOINTS[finger], joint_angles):
            angles[joint - 1] = np.deg2rad(a)
    frames = anatomical_frames(_right_rest_joints(data))
    return to_right_convention(pose_from_angles(angles, frames), data.side)


def _right_rest_joints(data: HandData) -> np.ndarray:
    joints = data.rest_joints
    return joints * np.array([-1.0, 1.0, 1.0]) if data.side == "left" else joints
