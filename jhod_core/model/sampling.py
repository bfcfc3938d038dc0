"""Samplers: object-conditioned grasps (t_O = 0, object fixed) and joint hand + object (t_H = t_O = t).

Both run the same reverse loop (paper sec. 3.3.3, MDM-style): at each level t the network predicts
x0, and the scheduler moves x_t to the next level s < t, either with deterministic DDIM over a
strided subset of steps (default ``spec.DEFAULT_DDIM_STEPS``) or ancestral DDPM (default all 1000 steps). Deterministic
per seed: all noise comes from one CPU ``torch.Generator`` seeded with ``seed``.
Inputs and outputs are raw (denormalised): MANO hand params (N, 51) and object latents (N, 512).
"""

from __future__ import annotations

import torch

from . import spec
from .denoiser import JHODDenoiser, split_state
from .schedule import CosineSchedule, randn



def sample_conditional(model: JHODDenoiser, object_latent: torch.Tensor, num: int | None = None,
                       steps: int | None = None, seed: int = 0, method: str = "ddim",
                       noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Grasps for given objects: ``object_latent`` (1, 512) with ``num`` samples, or (B, 512), one each.

    The object part stays clean and fixed with t_O = 0 (UniDiffuser's conditional mode). A model
    trained with synchronised timesteps never saw t_O = 0, so for it the object is re-noised to the
    hand's level at every step instead (replacement conditioning). ``noise``: the initial hand part
    (N, 51) in model space, else drawn from the seed.
    """
    if object_latent.dim() == 1:
        object_latent = object_latent[None]
    num = num or object_latent.shape[0]
    if object_latent.shape[0] not in (1, num):
        raise ValueError(f"object_latent has {object_latent.shape[0]} rows for {num} samples")
    device = model.hand_mean.device
    _, obj = model.normalize(None, object_latent.to(device, torch.float32).expand(num, spec.OBJECT_DIM))
    generator = torch.Generator().manual_seed(seed)
    hand = randn((num, spec.HAND_DIM), generator, device) if noise is None else noise.to(device)
    x = _reverse_loop(model, torch.cat([hand, obj], 1), steps, method, generator, fixed_object=obj)
    return model.denormalize(x)


def sample_joint(model: JHODDenoiser, num: int, steps: int | None = None, seed: int = 0, method: str = "ddim",
                 noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hand and object together (t_H = t_O = t). ``noise``: initial state (N, 563) in model space."""
    device = model.hand_mean.device
    generator = torch.Generator().manual_seed(seed)
    x = randn((num, spec.STATE_DIM), generator, device) if noise is None else noise.to(device)
    return model.denormalize(_reverse_loop(model, x, steps, method, generator))


@torch.no_grad()
def _reverse_loop(model, x, steps, method, generator, fixed_object=None):
    """x_T -> x_0. With ``fixed_object`` (model space) only the hand is denoised."""
    if method not in ("ddim", "ddpm"):
        raise ValueError(f"method must be 'ddim' or 'ddpm', got {method!r}")
    schedule = CosineSchedule(model.config.num_train_steps)
    steps = steps or (spec.DEFAULT_DDIM_STEPS if method == "ddim" else schedule.num_train_steps)
    ts = schedule.timesteps(steps)
    n = x.shape[0]
    replace = fixed_object is not None and model.config.sync_timesteps
    was_training = model.training
    model.eval()
    try:
        for i, t in enumerate(ts):
            s = ts[i + 1] if i + 1 < len(ts) else 0
            t_vec = torch.full((n,), t, dtype=torch.long, device=x.device)
            t_obj = t_vec
            if fixed_object is not None:
                obj = fixed_object
                if replace:
                    obj = schedule.q_sample(fixed_object, t, randn(fixed_object.shape, generator, x.device))
                else:
                    t_obj = torch.zeros_like(t_vec)
                x = torch.cat([split_state(x)[0], obj], 1)
            x0 = model(x, t_vec, t_obj)
            if method == "ddim":
                x = schedule.ddim_step(x, x0, t, s)
            else:
                x = schedule.ddpm_step(x, x0, t, s, generator)
        if fixed_object is not None:
            x = torch.cat([split_state(x)[0], fixed_object], 1)
        return x
    finally:
        model.train(was_training)
