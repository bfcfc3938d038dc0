"""The noise scheduler, separate from the network (diffusers style): cosine schedule, T = 1000.

Timesteps are integers 0..T where t = 0 means clean data (no noise) and t = T pure noise; every
function takes a per-element timestep tensor, so the hand and object parts of one state can sit
at different noise levels (JHOD's asynchronous schedulers, eq. 9-10). Randomness only comes from
the ``torch.Generator`` passed in, a CPU generator (see ``randn``).
"""

from __future__ import annotations

import torch

from ..model import spec


class CosineSchedule:
    """Forward noising q(x_t | x_0) and the reverse steps for an x0-predicting network."""

    def __init__(self, num_train_steps: int = spec.NUM_TRAIN_STEPS):
        self.num_train_steps = num_train_steps
        # float64: 1 - alpha_bar near t = 1 loses digits in float32
        self.alphas_cumprod = torch.as_tensor(spec.cosine_alphas_cumprod(num_train_steps), dtype=torch.float64)

    def abar(self, t, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at ``t`` (int or integer tensor), float64, shaped to broadcast against ``like``.

        A tensor ``t`` whose shape is a prefix of ``like.shape`` (per sample, or per element) gets
        trailing singleton dimensions.
        """
        table = self.alphas_cumprod.to(like.device)
        if not torch.is_tensor(t):
            return table[int(t)]
        t = t.to(like.device).long()
        if t.min() < 0 or t.max() > self.num_train_steps:
            raise ValueError(f"timesteps must be in 0..{self.num_train_steps}")
        value = table[t]
        return value.reshape(*t.shape, *([1] * (like.dim() - t.dim())))

    def sample_timesteps(self, shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Training timesteps uniform in 1..T (drawn on the CPU generator, then moved: device-independent)."""
        return torch.randint(1, self.num_train_steps + 1, tuple(shape), generator=generator).to(device)

    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; elements with t = 0 are returned exactly."""
        abar = self.abar(t, x0)
        x_t = (abar.sqrt() * x0.double() + (1 - abar).sqrt() * noise.double()).to(x0.dtype)
        clean = (torch.as_tensor(t, device=x0.device) == 0)
        if clean.dim() < x0.dim():
            clean = clean.reshape(*clean.shape, *([1] * (x0.dim() - clean.dim())))
        return torch.where(clean, x0, x_t)

    def timesteps(self, num_steps: int) -> list[int]:
        """K descending sampling timesteps, T first; the step after the last one lands on t = 0."""
        return spec.ddim_timesteps(num_steps, self.num_train_steps)

    def ddim_step(self, x_t: torch.Tensor, x0_hat: torch.Tensor, t, s) -> torch.Tensor:
        """Deterministic DDIM step from level t to level s < t (s = 0 returns x0_hat)."""
        out = spec.ddim_update(x_t.double(), x0_hat.double(), self.abar(t, x_t), self.abar(s, x_t))
        return out.to(x_t.dtype)

    def ddpm_step(self, x_t: torch.Tensor, x0_hat: torch.Tensor, t, s, generator: torch.Generator) -> torch.Tensor:
        """Ancestral DDPM step: a draw from q(x_s | x_t, x0_hat) (no noise when s = 0)."""
        mean, var = spec.posterior(x_t.double(), x0_hat.double(), self.abar(t, x_t), self.abar(s, x_t))
        noise = randn(x_t.shape, generator, x_t.device, x_t.dtype)
        return (mean + torch.as_tensor(var).sqrt() * noise.double()).to(x_t.dtype)


def randn(shape, generator: torch.Generator | None, device=None, dtype=torch.float32) -> torch.Tensor:
    """Gaussian noise drawn on the CPU generator and moved: the same seed gives the same numbers on any device."""
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(device)
