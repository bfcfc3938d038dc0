"""The hand part of the diffusion state: MANO parameters (51) <-> the numbers the network denoises.

``"axis_angle"`` (the shipped model and every model before v8): the 51 MANO numbers as they are,
[global_orient 3 | hand_pose 45 | transl 3]. ``"6d"``: the wrist rotation as the first two columns of its
matrix (Zhou et al., CVPR 2019), then hand_pose and transl: 54 numbers. Axis-angle is discontinuous at
180 degrees (the same wrist can be a vector of length pi or its opposite), and the trained models rarely
produced wrist rotations past ~150 degrees that the data has (docs/eval/approach_bias.md); the 6D form has
no such seam. The finger joints stay axis-angle: their angles are small.

``six_d_to_matrix`` uses only arithmetic and ``stack``, so the torch training losses call the same function
on tensors (one formula, two backends, as ``spec``).
"""

from __future__ import annotations

import numpy as np

from ..hand.numpy_forward import matrix_to_rotvec, rodrigues  # NumPy only: the Blender path has no scipy

ROTATION_DIMS = {"axis_angle": 3, "6d": 6}
MANO_DIM = 51  # global_orient 3 + hand_pose 45 + transl 3


def hand_dim(rotation: str) -> int:
    """Numbers in the hand part of the state for wrist rotation form ``rotation``."""
    if rotation not in ROTATION_DIMS:
        raise ValueError(f"unknown hand rotation form {rotation!r}; expected one of {sorted(ROTATION_DIMS)}")
    return MANO_DIM - 3 + ROTATION_DIMS[rotation]


def to_state(params, rotation: str) -> np.ndarray:
    """MANO parameters (B, 51) -> raw hand state (B, hand_dim(rotation)), float64."""
    params = np.asarray(params, dtype=np.float64)
    if hand_dim(rotation) == MANO_DIM:
        return params.copy()
    matrix = rodrigues(params[:, :3])
    six = np.concatenate([matrix[:, :, 0], matrix[:, :, 1]], axis=1)
    return np.concatenate([six, params[:, 3:]], axis=1)


def to_params(state, rotation: str) -> np.ndarray:
    """Raw hand state (B, hand_dim(rotation)) -> MANO parameters (B, 51), float64 (the 6D part is made a
    rotation first: any 6 numbers with two independent halves give one)."""
    state = np.asarray(state, dtype=np.float64)
    if hand_dim(rotation) == MANO_DIM:
        return state.copy()
    rotvec = matrix_to_rotvec(six_d_to_matrix(state[:, :6]))
    return np.concatenate([rotvec, state[:, 6:]], axis=1)


def six_d_to_matrix(six, stack=np.stack):
    """(..., 6) = two 3-vectors a, b -> rotation matrices (..., 3, 3) with columns Gram-Schmidt(a, b) and
    a x b. Pass ``stack=torch.stack`` for tensors (differentiable)."""
    def unit(v):
        return v / ((v * v).sum(-1)[..., None] + 1e-12) ** 0.5

    a, b = six[..., :3], six[..., 3:6]
    c0 = unit(a)
    c1 = unit(b - (c0 * b).sum(-1)[..., None] * c0)
    c2 = stack([c0[..., 1] * c1[..., 2] - c0[..., 2] * c1[..., 1],
                c0[..., 2] * c1[..., 0] - c0[..., 0] * c1[..., 2],
                c0[..., 0] * c1[..., 1] - c0[..., 1] * c1[..., 0]], -1)
    return stack([c0, c1, c2], -1)
