"""Moving a posed MANO hand rigidly: new (global_orient, transl) for the same hand under x -> R x + t.

MANO rotates about the rest wrist joint J0 (smplx: v = R_g (v_rest - J0) + J0 + transl), so rotating
the posed hand by R gives global_orient' = R R_g and transl' = R (J0 + transl) - J0 + t. Used for
rotation augmentation in training and for putting sampled hands back into a mesh's own frame.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .model_file import HandData


def rest_wrist(data: HandData, betas=None) -> np.ndarray:
    """J0 (3,): the wrist joint of the (shaped) rest hand, in metres."""
    v = data.v_template if betas is None else data.v_template + data.shapedirs @ np.asarray(betas, np.float64)
    return data.J_regressor[0] @ v


def transform_params(global_orient: np.ndarray, transl: np.ndarray, rotation: np.ndarray,
                     translation: np.ndarray | None, wrist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(global_orient (B, 3), transl (B, 3)) after the rigid motion x -> R x + t.

    `rotation` is (3, 3) or (B, 3, 3); `translation` (3,) / (B, 3) or None; `wrist` is `rest_wrist`.
    """
    go = np.asarray(global_orient, np.float64).reshape(-1, 3)
    tr = np.asarray(transl, np.float64).reshape(-1, 3)
    rot = np.broadcast_to(np.asarray(rotation, np.float64), (len(go), 3, 3))
    new_go = (Rotation.from_matrix(rot) * Rotation.from_rotvec(go)).as_rotvec()
    new_tr = np.einsum("bij,bj->bi", rot, tr + wrist) - wrist
    if translation is not None:
        new_tr = new_tr + np.asarray(translation, np.float64)
    return new_go, new_tr
