"""Where the object's surface is, seen from the hand being denoised: the network's view of local geometry.

The denoiser sees the object only through its global latent (4 tokens of 128 numbers, ~5 mm reconstruction
error): enough for the object's shape and size, not for where a fingertip meets the surface, and raw samples sank
~1 cm into objects. In conditional sampling the object's points are known, so at every step the hand the state
currently describes (x_t / sqrt(alpha_bar): the clean hand plus the noise left) is posed, and for each of its 21
keypoints the offset to the nearest of the object's points is given to the network (clipped to ``REACH``; a flag
says they are given). Early in the reverse loop they say little (the hand is mostly noise); at the last steps they
say where each finger is against the surface. Training computes them the same way from its noised states
(``training/train_diffusion.py --surface``); NumPy only, so Blender computes them too.
"""

from __future__ import annotations

import numpy as np

from ..hand.numpy_forward import forward
from ..hand.topology import KEYPOINT_ORDER
from . import hand_state

KEYPOINTS = 21
DIM = KEYPOINTS * 3 + 1          # offsets (21 x 3, in units of REACH) and the "given" flag
REACH = 0.05                     # m: offsets longer than this keep their direction at this length
STATE_CLIP = 4.0                 # the hand estimate in model space (a few standard deviations: far is far)


def keypoints_of_state(state: np.ndarray, abar: np.ndarray, hand_mean, hand_std, rotation: str,
                       hand_data) -> np.ndarray:
    """(B, 21, 3) keypoints (metres, sampling frame) of the hands that model-space hand states (B, hand_dim) at
    noise levels with cumulative alpha ``abar`` (B,) stand for: x_t / sqrt(abar), clipped to ``STATE_CLIP``."""
    estimate = np.clip(np.asarray(state, dtype=np.float64) / np.sqrt(np.asarray(abar, dtype=np.float64))[:, None],
                       -STATE_CLIP, STATE_CLIP)
    params = hand_state.to_params(estimate * hand_std + hand_mean, rotation)
    tips = hand_data.tip_vertex_ids
    verts, joints, _ = forward(hand_data, global_orient=params[:, :3], hand_pose=params[:, 3:48],
                               transl=params[:, 48:51], vertex_ids=tips)
    return np.concatenate([joints, verts], axis=1)[:, KEYPOINT_ORDER]


def surface_features(keypoints: np.ndarray, clouds: np.ndarray) -> np.ndarray:
    """(B, DIM) float32: per keypoint (B, 21, 3) the offset to the nearest point of its object's cloud ((P, 3)
    shared, or (B, P, 3)), divided by ``REACH`` and clipped to length 1, then the flag 1."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    clouds = np.asarray(clouds, dtype=np.float64)
    if clouds.ndim == 2:
        clouds = clouds[None]
    # |c|^2 - 2 k.c per keypoint and cloud point: the argmin is the nearest point
    if len(clouds) == 1:  # one object for all rows (sampling): one product
        dots = (keypoints.reshape(-1, 3) @ clouds[0].T).reshape(len(keypoints), KEYPOINTS, -1)
    else:
        dots = keypoints @ clouds.transpose(0, 2, 1)
    nearest = ((clouds * clouds).sum(axis=-1)[:, None, :] - 2.0 * dots).argmin(axis=-1)   # (B, 21)
    rows = np.arange(len(clouds))[:, None] if len(clouds) > 1 else np.zeros((1, 1), dtype=np.int64)
    offset = (clouds[rows, nearest] - keypoints) / REACH
    length = np.linalg.norm(offset, axis=-1, keepdims=True)
    offset = offset / np.maximum(length, 1.0)
    return np.concatenate([offset.reshape(len(keypoints), -1), np.ones((len(keypoints), 1))], axis=1).astype(
        np.float32)
