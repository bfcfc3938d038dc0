"""Rotation augmentation of the grasp data (denoiser and GrabNet-style baseline training) and the frozen-encoder
latents it needs: each grasped object under fixed rotations, its grasps moved rigidly with it."""

from __future__ import annotations

import numpy as np
import torch

from jhod_core.hand import load_hand_data
from jhod_core.hand.params import GLOBAL_ORIENT, HAND_POSE, TRANSL, join_params
from jhod_core.hand.rigid import rest_wrist, transform_params
from jhod_core.model import spec


@torch.no_grad()
def encode_objects(autoencoder, points: np.ndarray, which: np.ndarray, device, batch: int = 64) -> torch.Tensor:
    """Posterior means (N, 512) for the objects in ``which`` (others stay 0)."""
    latents = torch.zeros(len(points), spec.OBJECT_DIM)
    for i in range(0, len(which), batch):
        sel = which[i:i + batch]
        latents[sel] = autoencoder.encode(torch.as_tensor(points[sel], dtype=torch.float32).to(device)).cpu()
    return latents


IDENTITY_SHARE = 0.25  # of augmented draws keep the corpus orientation (test objects come upright)


class RotationAugmentation:
    """Each grasped object under K fixed rotations (the first is the identity), re-centred on its
    bounding box as at sampling time, with frozen-encoder latents precomputed per (object, rotation).
    A grasp drawn with rotation k is moved rigidly with its object (``jhod_core.hand.rigid``)."""

    def __init__(self, autoencoder, points: np.ndarray, objects: np.ndarray, k: int, seed: int, device):
        from scipy.spatial.transform import Rotation

        self.wrist = rest_wrist(load_hand_data())  # grasps are stored for the open hand at mean shape
        self.rotations = np.concatenate([np.eye(3)[None], Rotation.random(k - 1, random_state=seed).as_matrix()]
                                        if k > 1 else [np.eye(3)[None]]).astype(np.float32)
        self.row = {int(o): r for r, o in enumerate(objects)}
        rotated = np.einsum("kij,npj->nkpi", self.rotations, points[objects].astype(np.float32))
        self.offsets = (rotated.min(2) + rotated.max(2)) / 2  # (N, K, 3)
        rotated -= self.offsets[:, :, None]
        flat = rotated.reshape(-1, *rotated.shape[2:])
        self.latents = encode_objects(autoencoder, flat, np.arange(len(flat)), device).reshape(
            len(objects), k, spec.OBJECT_DIM)

    def pick(self, rng: np.random.Generator, obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, rotation indices) for grasps on objects ``obj``."""
        k = len(self.rotations)
        which = np.where(rng.random(len(obj)) < IDENTITY_SHARE, 0, rng.integers(0, k, len(obj)))
        return np.array([self.row[int(o)] for o in obj]), which

    def draw(self, rng: np.random.Generator, obj: np.ndarray, params: np.ndarray, clouds: np.ndarray):
        """(params, latents, clouds) of the grasps on objects ``obj`` under random rotations."""
        return self.apply(*self.pick(rng, obj), params, clouds)

    def frames(self, rows: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rotations (B, 3, 3), offsets (B, 3)): a corpus-frame point p goes to R p - offset."""
        return self.rotations[which], self.offsets[rows, which]

    def apply(self, rows: np.ndarray, which: np.ndarray, params: np.ndarray, clouds: np.ndarray):
        rot, off = self.frames(rows, which)
        go, tr = transform_params(params[:, GLOBAL_ORIENT], params[:, TRANSL], rot, -off, self.wrist)
        params = join_params(go, params[:, HAND_POSE], tr).astype(np.float32)
        clouds = np.einsum("bij,bpj->bpi", rot, clouds) - off[:, None]
        return params, self.latents[rows, which], clouds
