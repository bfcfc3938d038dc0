"""The 51 MANO parameters of one grasp, in the order every file and network uses: named slices.

``[global_orient (3) | hand_pose (45) | transl (3)]``: axis-angle wrist rotation, 15 axis-angle joint
rotations (flat hand = zeros), wrist translation in metres.
"""

from __future__ import annotations

import numpy as np

GLOBAL_ORIENT = slice(0, 3)
HAND_POSE = slice(3, 48)
TRANSL = slice(48, 51)
NUM_PARAMS = 51


def split_params(params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, 51) -> (global_orient (B, 3), hand_pose (B, 45), transl (B, 3))."""
    params = np.asarray(params)
    return params[..., GLOBAL_ORIENT], params[..., HAND_POSE], params[..., TRANSL]


def join_params(global_orient, hand_pose, transl) -> np.ndarray:
    """(B, 3), (B, 45), (B, 3) -> (B, 51) float64."""
    return np.concatenate([np.asarray(global_orient, dtype=np.float64), np.asarray(hand_pose, dtype=np.float64),
                           np.asarray(transl, dtype=np.float64)], axis=-1)
