"""Layout and formulas shared by the torch model and the NumPy inference (torch-free, NumPy only).

Everything here works on NumPy arrays; the update formulas use only arithmetic, so the torch
scheduler calls the very same functions with tensors (one formula, two backends).

State layout (model space, normalised): ``[hand (51) | object latent (512)]``.
The hand is MANO's [global_orient 3, hand_pose 45, transl 3] (a model with a 6D wrist rotation has 54 hand
numbers: ``hand_state``; code that serves any model splits at ``-OBJECT_DIM``); the object latent is the
autoencoder's 128 latent points x (xyz, feature) in a fixed order, flattened point-major, so
object token ``j`` is latent points ``32 j .. 32 j + 31`` = numbers ``128 j .. 128 j + 127``.
"""

from __future__ import annotations

import math

import numpy as np

HAND_DIM = 51
LATENT_POINTS = 128
LATENT_POINT_DIM = 4  # xyz + 1 feature (LION's latent points)
OBJECT_DIM = LATENT_POINTS * LATENT_POINT_DIM  # 512
OBJECT_TOKENS = 4
CHUNK_DIM = OBJECT_DIM // OBJECT_TOKENS  # 128 numbers = 32 latent points per token
STATE_DIM = HAND_DIM + OBJECT_DIM  # 563
# Controls of a model trained with them (model v2): [near xyz x CONTROL_SCALE, on | approach xyz, on |
# power, precision, pinch, on], in the centred sampling frame; a control that is not given is all zeros.
CONTROL_DIM = 12
CONTROL_NEAR, CONTROL_APPROACH, CONTROL_TYPE = slice(0, 4), slice(4, 8), slice(8, 12)
CONTROL_SCALE = 10.0  # metres -> decimetres, as the autoencoder's network units
NUM_TRAIN_STEPS = 1000
# DDIM steps unless asked otherwise: 25 measured as good as 50 (refined grasps, joint pairs; docs/model.md)
DEFAULT_DDIM_STEPS = 25


def cosine_alphas_cumprod(num_steps: int = NUM_TRAIN_STEPS, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """alpha_bar for t = 0..T (float64, length T + 1); alpha_bar[0] = 1 means t = 0 is clean data.

    Nichol & Dhariwal's cosine schedule: betas from alpha_bar(t) = cos^2((t/T + s)/(1 + s) pi/2),
    clipped at ``max_beta``; alpha_bar is then the product of (1 - beta) so clipping is honoured.
    """
    def f(u):
        return math.cos((u / num_steps + s) / (1 + s) * math.pi / 2) ** 2

    betas = np.array([min(1 - f(i + 1) / f(i), max_beta) for i in range(num_steps)])
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def ddim_timesteps(num_steps: int, num_train_steps: int = NUM_TRAIN_STEPS) -> list[int]:
    """K descending timesteps from T down to >= 1, evenly spaced; the last step goes to t = 0.

    Starting at exactly T (pure noise) matches training, where t = T is the noisiest level.
    """
    if not 1 <= num_steps <= num_train_steps:
        raise ValueError(f"steps must be in 1..{num_train_steps}, got {num_steps}")
    ts = np.round(np.linspace(num_train_steps, 1, num_steps)).astype(int)
    return [int(t) for t in ts]


def ddim_update(x_t, x0_hat, abar_t, abar_s):
    """Deterministic DDIM (eta = 0) move from level t to level s < t, given the predicted x0.

    The implied noise is kept and x0 re-noised to level s; for s = 0 (abar_s = 1) this returns x0.
    Arguments are arrays or tensors (abar broadcastable); only arithmetic is used.
    """
    eps = (x_t - abar_t ** 0.5 * x0_hat) / (1 - abar_t) ** 0.5
    return abar_s ** 0.5 * x0_hat + (1 - abar_s) ** 0.5 * eps


def posterior(x_t, x0_hat, abar_t, abar_s):
    """Mean and variance of q(x_s | x_t, x0) for s < t (DDPM ancestral step; s = t - 1 is the usual one).

    Variance is the "fixed small" choice (MDM's sigma_small); it is 0 for s = 0.
    """
    alpha = abar_t / abar_s  # alpha_{t|s}
    mean = (abar_s ** 0.5 * (1 - alpha) * x0_hat + alpha ** 0.5 * (1 - abar_s) * x_t) / (1 - abar_t)
    var = (1 - abar_s) / (1 - abar_t) * (1 - alpha)
    return mean, var


def sinusoidal_table(length: int, dim: int) -> np.ndarray:
    """(length, dim) float32 sinusoidal embedding of positions 0..length-1 (sin on even, cos on odd)."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, dim, 2, dtype=np.float64) / dim)
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq)[:, : dim // 2]
    return table.astype(np.float32)
