"""MANO forward kinematics and skinning in NumPy only (no torch, no smplx): the Blender path.

Same maths as smplx's `lbs` for MANO (hand_model_facts.md 1.5): shape blend, joint regression,
pose correctives from (R - I) of the 15 finger joints, rest frames with identity orientation,
linear blend skinning, then translation. `tests/test_hand.py` checks it against the torch path.
"""

from __future__ import annotations

import numpy as np

from .model_file import HandData
from .topology import KEYPOINT_ORDER


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(rotvec.shape[:-1] + (3, 3))
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def matrix_to_rotvec(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3), angle in [0, pi]; stable at 0 and at pi (through
    the unit quaternion, taken from the largest of its four squared components: Shepperd's method)."""
    m = np.asarray(matrix, dtype=np.float64)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    squares = np.stack([1 + trace, 1 + 2 * m[..., 0, 0] - trace, 1 + 2 * m[..., 1, 1] - trace,
                        1 + 2 * m[..., 2, 2] - trace], -1)  # 4 w^2, 4 x^2, 4 y^2, 4 z^2
    big = squares.argmax(-1)
    s = np.sqrt(np.maximum(np.take_along_axis(squares, big[..., None], -1)[..., 0], 1e-30))
    sums = {(i, j): m[..., i, j] + m[..., j, i] for i in range(3) for j in range(3)}
    diff = [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]]
    # (w, x, y, z) x 2 s for each choice of the largest component
    cases = [np.stack([s * s, diff[0], diff[1], diff[2]], -1),
             np.stack([diff[0], s * s, sums[0, 1], sums[0, 2]], -1),
             np.stack([diff[1], sums[0, 1], s * s, sums[1, 2]], -1),
             np.stack([diff[2], sums[0, 2], sums[1, 2], s * s], -1)]
    quat = np.choose(big[..., None], cases) / (2 * s)[..., None]
    quat = quat * np.where(quat[..., :1] < 0, -1.0, 1.0)  # w >= 0: the angle is at most pi
    vec = quat[..., 1:]
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2 * np.arctan2(norm, quat[..., :1])
    return vec * np.where(norm > 1e-12, angle / np.maximum(norm, 1e-12), 2.0)


def _batch(a, width: int, batch: int) -> np.ndarray:
    if a is None:
        return np.zeros((batch, width))
    a = np.asarray(a, dtype=np.float64)
    return np.broadcast_to(a.reshape(-1, a.shape[-1]), (batch, a.shape[-1])) if a.ndim == 1 else a


def pose_correctives(posedirs: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Pose-corrective vertex offsets (B, V, 3) from the joint rotations (B, 16, 3, 3): the posedirs blend of
    (R - I) of the 15 finger joints (zero for the open hand, which has no correctives)."""
    pose_feature = (rotations[:, 1:] - np.eye(3)).reshape(len(rotations), 135)
    return (pose_feature @ posedirs.reshape(-1, 135).T).reshape(len(rotations), -1, 3)


def _has_correctives(data: HandData) -> bool:
    """Whether ``data`` has pose correctives (a MANO file does; the open hand's are all zero), kept with it."""
    known = data.__dict__.get("_has_correctives")  # HandData is frozen: the flag rides in its __dict__
    if known is None:
        known = data.__dict__["_has_correctives"] = bool(np.any(data.posedirs))
    return known


def forward(data: HandData, global_orient=None, hand_pose=None, transl=None, betas=None,
            flat_hand_mean: bool = True, vertex_ids=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Posed hands: vertices (B, V, 3), joints (B, 16, 3), keypoints (B, 21, 3) in metres.

    Any argument may be None (zeros) or unbatched; `hand_pose` is 45 axis-angle values (15 joints
    in MANO order); `flat_hand_mean=True` means zeros = flat open hand (manopth/GRAB convention).
    `vertex_ids` skins only those vertices (faster; joints are unchanged) and returns no keypoints.
    """
    arrays = [a for a in (global_orient, hand_pose, transl, betas) if a is not None]
    batch = max([np.asarray(a).reshape(-1, np.asarray(a).shape[-1]).shape[0] for a in arrays] or [1])
    go = _batch(global_orient, 3, batch)
    hp = _batch(hand_pose, 45, batch)
    tr = _batch(transl, 3, batch)
    num_betas = data.shapedirs.shape[2]
    be = _batch(betas, num_betas, batch)[:, :num_betas]
    if not flat_hand_mean:
        hp = hp + data.hands_mean

    # matmuls, not einsum: NumPy's einsum does not use BLAS here and was most of a refinement's time
    shapedirs = data.shapedirs[:, :, : be.shape[1]]
    # one shape for the whole batch (the usual case: one hand, many poses) is blended once and broadcast: the
    # (B, V, 3) blend of every row was a tenth of a refinement's time
    shapes = be[:1] if (be == be[:1]).all() else be
    v_shaped = data.v_template + (shapes @ shapedirs.reshape(-1, be.shape[1]).T).reshape(len(shapes), -1, 3)
    joints = np.broadcast_to(data.J_regressor @ v_shaped, (batch, 16, 3))
    rot = rodrigues(np.concatenate([go, hp], axis=1).reshape(batch, 16, 3))
    posedirs, weights = data.posedirs, data.weights
    if vertex_ids is not None:
        v_shaped, posedirs, weights = v_shaped[:, vertex_ids], posedirs[vertex_ids], weights[vertex_ids]
    # the open hand has no pose correctives (all zero): skipped, the same vertices (its product was a fifth of
    # refining's MANO time)
    v_posed = v_shaped + pose_correctives(posedirs, rot) if _has_correctives(data) else v_shaped

    # world transforms of each joint's rest-aligned frame
    world = np.zeros((batch, 16, 4, 4))
    world[:, :, 3, 3] = 1.0
    for k, parent in enumerate(data.parents):
        local_t = joints[:, k] - (joints[:, parent] if parent >= 0 else 0.0)
        if parent < 0:
            world[:, k, :3, :3], world[:, k, :3, 3] = rot[:, k], local_t
        else:
            world[:, k, :3, :3] = world[:, parent, :3, :3] @ rot[:, k]
            world[:, k, :3, 3] = np.einsum("bij,bj->bi", world[:, parent, :3, :3], local_t) + world[:, parent, :3, 3]
    posed_joints = world[:, :, :3, 3].copy()
    # remove the rest joint so each transform acts on rest-pose vertices
    rel = world.copy()
    rel[:, :, :3, 3] -= np.einsum("bkij,bkj->bki", world[:, :, :3, :3], joints)
    # the skinning weights blend all hands' 3x4 transforms in one product (V, 16) @ (16, B * 12): per hand, NumPy
    # ran one small product each and an einsum without BLAS, two thirds of a refinement's MANO time
    top = rel[:, :, :3, :].transpose(1, 0, 2, 3).reshape(16, batch * 12)
    per_vertex = (weights @ top).reshape(-1, batch, 3, 4).transpose(1, 0, 2, 3)  # (B, V, 3, 4)
    x = v_posed[..., None, :]                                                     # (B or 1, V, 1, 3)
    verts = (per_vertex[..., 0] * x[..., 0] + per_vertex[..., 1] * x[..., 1] + per_vertex[..., 2] * x[..., 2]
             + per_vertex[..., 3])

    verts = verts + tr[:, None]
    posed_joints = posed_joints + tr[:, None]
    if vertex_ids is not None:
        return verts, posed_joints, None
    keypoints = np.concatenate([posed_joints, verts[:, data.tip_vertex_ids]], axis=1)[:, KEYPOINT_ORDER]
    return verts, posed_joints, keypoints
