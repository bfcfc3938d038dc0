"""``TorchBackend``: the network calls of ``jhod_core.pipeline`` on torch (CPU threads or CUDA).

Reads the same ``.npz`` weight files as the NumPy backend (``weights_file``). Arrays go in and come out as
NumPy (the loop and every random draw live in the pipeline, so a seed means the same on both backends);
moving a (B, 563) state to the GPU and back per step costs microseconds against the network.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import JHODError
from .autoencoder import ObjectAutoencoder
from .denoiser import JHODDenoiser


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cuda`` without a GPU is a ``JHODError``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise JHODError("--device cuda was asked for but no CUDA GPU is available (use --device cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise JHODError(f"--device must be auto, cpu or cuda, got {device!r}")
    return device


class TorchBackend:
    """``pipeline.Backend`` on torch models in eval mode (do not train or modify them in place)."""

    def __init__(self, autoencoder: ObjectAutoencoder, denoiser: JHODDenoiser, device: str = "cpu"):
        self.device = device
        self.autoencoder = autoencoder.to(device).eval()
        self.denoiser = denoiser.to(device).eval()
        self.num_train_steps = int(denoiser.config.num_train_steps)
        self.sync_timesteps = bool(denoiser.config.sync_timesteps)
        self.controls = bool(denoiser.config.controls)
        self.surface = bool(denoiser.config.surface)
        self.rotation = denoiser.config.rotation
        for name in ("hand_mean", "hand_std", "object_mean", "object_std"):
            setattr(self, name, getattr(denoiser, name).detach().cpu().double().numpy())

    @classmethod
    def from_files(cls, autoencoder_path, denoiser_path, device: str = "cpu") -> "TorchBackend":
        return cls(ObjectAutoencoder.load(autoencoder_path), JHODDenoiser.load(denoiser_path), device)

    def _tensor(self, x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    @torch.no_grad()
    def encode(self, points):
        return self.autoencoder.encode(self._tensor(points)).cpu().double().numpy()

    @torch.no_grad()
    def decode(self, latent):
        return self.autoencoder.decode(self._tensor(latent)).cpu().double().numpy()

    @torch.no_grad()
    def denoise(self, x, t_hand, t_object, control=None, hand_only=False, surface=None):
        t_hand = torch.as_tensor(np.asarray(t_hand, dtype=np.int64), device=self.device)
        t_object = torch.as_tensor(np.asarray(t_object, dtype=np.int64), device=self.device)
        control = None if control is None else self._tensor(control)
        surface = None if surface is None else self._tensor(surface)
        return self.denoiser(self._tensor(x), t_hand, t_object, control=control, hand_only=hand_only,
                             surface=surface).cpu().double().numpy()
