"""Tiny random-weight JHOD models saved like the training scripts save them (contract tests only)."""

from pathlib import Path

import torch

from jhod_core.torch.autoencoder import AutoencoderConfig, ObjectAutoencoder
from jhod_core.torch.denoiser import DenoiserConfig, JHODDenoiser

TINY = DenoiserConfig(d_model=32, layers=2, heads=4, ff=64, encoder_hidden=64, dropout=0.0)
TINY_AE = AutoencoderConfig(stage1=(16, 32), stage2=(32, 32), head_hidden=64, context=32, patch_hidden=16)


def write_tiny_weights(folder: Path, controls: bool = False, surface: bool = False, rotation: str = "axis_angle",
                       skip: bool = False) -> Path:
    """The training scripts' .pt files and their export (autoencoder.npz, denoiser.npz) in `folder`; ``controls``
    / ``surface``: a denoiser with controls / surface features whose layer is not at its zero start (as after
    training)."""
    from training.export_weights import export

    torch.manual_seed(0)
    ObjectAutoencoder(TINY_AE).save(folder / "autoencoder.pt", {"train_splits": "train", "steps": 1})
    model = JHODDenoiser(DenoiserConfig(**{**TINY.__dict__, "controls": controls, "surface": surface,
                                           "rotation": rotation, "skip": skip}))
    if controls:
        torch.nn.init.normal_(model.control_encoder[2].weight, std=0.5)
    if surface:
        torch.nn.init.normal_(model.surface_encoder[2].weight, std=0.5)
    g = torch.Generator().manual_seed(1)
    model.set_statistics(torch.zeros(model.hand_dim), 0.05 + 0.1 * torch.rand(model.hand_dim, generator=g),
                         torch.randn(512, generator=g), 0.5 + torch.rand(512, generator=g))
    model.save(folder / "denoiser.pt", {"autoencoder": "autoencoder.pt", "train_args": {"seed": 0}, "steps": 1})
    export(folder / "autoencoder.pt", folder / "denoiser.pt", folder)
    return folder
