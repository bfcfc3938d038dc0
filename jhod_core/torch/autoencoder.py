"""Object autoencoder: a CPU-sized stand-in for LION's latent-point VAE (paper sec. 3.2.3).

2048 surface points -> 128 latent points x (xyz + 1 feature) -> 2048 points.

* Encoder: PointNet with a local stage: a shared per-point MLP, max pool, then a second per-point
  MLP on [point feature, global feature] and max pool again; an MLP head gives a diagonal Gaussian
  over the 512 latent numbers (a VAE, LION-style small initial sigma).
* Fixed order: the head emits latent point k always from the same output units, so slot k means
  the same thing for every object and the flat latent can be cut into 4 tokens of 32 latent points
  (``spec`` layout). The xyz part is trained (Chamfer, in ``training.losses``) to lie on the input
  surface, i.e. to be a 128-point down-sample of the object, as LION's latent points are; we do not
  copy input points (FPS anchors have no consistent order across objects).
* Decoder: folding. Each latent point unfolds into 16 points = its xyz + an offset from an MLP of
  [that latent point, a context vector of the whole (ordered) latent, a 4x4 grid seed], so decoded
  point ``16 k + j`` belongs to latent point k. With ``neighbours`` = k > 0 the patch MLP also gets
  the offsets to that latent point's k nearest latent points (nearest first): the local shape of the
  surface around it, which a global context vector carries poorly.

Coordinates inside the network are metres x ``point_scale`` (decimetres by default: the corpus
objects reach 0.15 m); ``encode`` takes metres and returns latents in network units, ``decode``
returns metres. ``latent_mean`` / ``latent_std`` buffers hold the per-dimension statistics of the
training latents (set by ``training/train_autoencoder.py`` after training), so they travel with
the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..model import spec
from .weights import WeightsFile


@dataclass
class AutoencoderConfig:
    num_points: int = 2048          # decoded points
    point_scale: float = 10.0       # metres -> network units
    stage1: tuple = (64, 128)       # per-point MLP widths
    stage2: tuple = (128, 256)      # per-point MLP on [point, global] features
    head_hidden: int = 512
    context: int = 256              # decoder's whole-latent context vector
    patch_hidden: int = 128
    neighbours: int = 0             # decoder sees each latent point's k nearest latent points (local surface)
    log_sigma_offset: float = 6.0   # initial posterior sigma ~ exp(-6) (LION)

    @property
    def points_per_latent(self) -> int:
        return self.num_points // spec.LATENT_POINTS

    def __post_init__(self):
        self.stage1, self.stage2 = tuple(self.stage1), tuple(self.stage2)
        if self.num_points % spec.LATENT_POINTS:
            raise ValueError(f"num_points must be a multiple of {spec.LATENT_POINTS}")
        side = int(round(self.points_per_latent ** 0.5))
        if side * side != self.points_per_latent:
            raise ValueError("num_points / 128 must be a square (folding grid)")


def mlp(widths, last_activation: bool = True) -> nn.Sequential:
    """Linear layers with ReLU between them (and after the last one if ``last_activation``)."""
    layers = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if last_activation or k < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def neighbour_offsets(xyz: torch.Tensor, k: int) -> torch.Tensor:
    """(B, K, 3) latent xyz -> (B, K, 3 k): offsets to each point's k nearest other points, nearest first."""
    d = torch.cdist(xyz, xyz)
    d = d + torch.eye(xyz.shape[1], dtype=d.dtype, device=d.device) * 1e9   # not itself
    idx = d.topk(k, dim=-1, largest=False).indices                          # (B, K, k)
    near = torch.gather(xyz[:, None].expand(-1, xyz.shape[1], -1, -1), 2, idx[..., None].expand(-1, -1, -1, 3))
    return (near - xyz[:, :, None]).flatten(2)


class ObjectAutoencoder(WeightsFile, nn.Module):
    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig | None = None):
        super().__init__()
        self.config = config = config or AutoencoderConfig()
        c1, c2 = config.stage1, config.stage2
        self.stage1 = mlp((3, *c1))
        self.stage2 = mlp((2 * c1[-1], *c2))
        self.head = mlp((c2[-1], config.head_hidden, 2 * spec.OBJECT_DIM), last_activation=False)
        self.context = mlp((spec.OBJECT_DIM, config.context, config.context))
        patch_in = spec.LATENT_POINT_DIM + config.context + 3 * config.neighbours
        self.patch = mlp((patch_in, config.patch_hidden, config.patch_hidden))
        self.fold = mlp((config.patch_hidden + 2, config.patch_hidden, config.patch_hidden, 3), last_activation=False)
        side = int(round(config.points_per_latent ** 0.5))
        g = torch.linspace(-1.0, 1.0, side)
        self.register_buffer("fold_grid", torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2))
        self.register_buffer("latent_mean", torch.zeros(spec.OBJECT_DIM))
        self.register_buffer("latent_std", torch.ones(spec.OBJECT_DIM))

    def posterior(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Points (B, N, 3) metres, any N -> (mean, log_sigma), each (B, 512) in network units."""
        f = self.stage1(points * self.config.point_scale)
        g = f.amax(dim=1, keepdim=True).expand_as(f)
        f = self.stage2(torch.cat([f, g], dim=-1)).amax(dim=1)
        mean, log_sigma = self.head(f).chunk(2, dim=-1)
        return mean, log_sigma - self.config.log_sigma_offset

    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """The deterministic latent (posterior mean, B x 512) that the diffusion model learns."""
        return self.posterior(points)[0]

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent (B, 512) network units -> points (B, num_points, 3) metres, patch-major order."""
        b, k, p = latent.shape[0], spec.LATENT_POINTS, self.config.points_per_latent
        lat = latent.reshape(b, k, spec.LATENT_POINT_DIM)
        ctx = self.context(latent)[:, None].expand(b, k, self.config.context)
        parts = [lat, ctx]
        if self.config.neighbours:
            parts.append(neighbour_offsets(lat[..., :3], self.config.neighbours))
        h = self.patch(torch.cat(parts, dim=-1))                             # (B, K, H)
        seeds = self.fold_grid.expand(b, k, p, 2)
        h = h[:, :, None].expand(b, k, p, h.shape[-1])
        offsets = self.fold(torch.cat([h, seeds], dim=-1))                   # (B, K, P, 3)
        points = lat[:, :, None, :3] + offsets
        return points.reshape(b, k * p, 3) / self.config.point_scale

    def forward(self, points: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """Training pass: sample z ~ q(z | points) (reparameterised) and decode it."""
        from .schedule import randn

        mean, log_sigma = self.posterior(points)
        z = mean + log_sigma.exp() * randn(mean.shape, generator, mean.device, mean.dtype)
        return {"mean": mean, "log_sigma": log_sigma, "latent": z, "recon": self.decode(z)}

    def latent_xyz(self, latent: torch.Tensor) -> torch.Tensor:
        """The xyz part of a latent (B, 512) as latent points (B, 128, 3) in metres."""
        lat = latent.reshape(latent.shape[0], spec.LATENT_POINTS, spec.LATENT_POINT_DIM)
        return lat[..., :3] / self.config.point_scale
