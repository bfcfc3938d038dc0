"""Training losses: object autoencoder (Chamfer + latent-point Chamfer + KL) and JHOD eq. (11)-(17).

Diffusion loss masks (one batch = B HOI samples, then M object-only samples; ``kind`` per row):

| rows | t_H | t_O | hand x0 loss | object x0 loss | distance field + joints |
|---|---|---|---|---|---|
| HOI, first half: unconditional (eq. 11) | U[1,T] | U[1,T] independent | yes | yes | yes |
| HOI, second half: conditional (eq. 12) | U[1,T] | 0 (clean, given) | yes | yes (see below) | yes |
| object-only (eq. 13-14) | T, hand = pure noise | U[1,T] | no, and the hand token is detached | yes | no |

* The conditional rows also supervise the object part, as eq. (12) writes ||z0 - G(z_tH, t_H)||^2 over
  the whole code: at t_O = 0 it is an identity target, cheap, and keeps the object outputs defined at
  t = 0; the samplers never use those outputs.
* Object-only rows: eq. (14) puts random noise in the hand slot and applies no hand supervision;
  we feed it at t_H = T (UniDiffuser's marginal mode: the noisiest level, which is what pure noise
  is) and detach the hand token, so these rows train nothing on the hand side ("the hand part as-is").
* ``--sync-timesteps`` (Table 4 ablation): t_O = t_H on every row (object-only rows too, their hand
  slot still pure noise); then there is no conditional half.
* Each x0 term is a mean over its own elements (51 (54 with a 6D wrist) hand or 512 object numbers) and over the rows of
  its group, then the groups are summed as in eq. (17): the 512-d object part does not drown the hand.
* Distance field (eq. 15) and joint positions (eq. 16) come from the predicted hand through the hand
  model's LBS; the field is taken against the object's input point cloud for both the prediction and
  the ground truth (the given shape, not a decoded one). Mean squared error per coordinate, in cm^2,
  weighted 0.01 by default: 1 cm^2 of joint error weighs as much as 0.01 of normalised x0 MSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from jhod_core.hand.params import GLOBAL_ORIENT, HAND_POSE, TRANSL
from jhod_core.model.hand_state import ROTATION_DIMS, six_d_to_matrix
from jhod_core.torch.denoiser import JHODDenoiser, expand_timesteps, split_state
from jhod_core.torch.schedule import CosineSchedule, randn
from jhod_core.torch.spatial import joint_distance_field_torch

UNCOND, COND, OBJECT_ONLY = 0, 1, 2
M2_TO_CM2 = 1e4


# --------------------------------------------------------------------------- autoencoder

def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared-distance Chamfer, per cloud: mean_a min_b |a-b|^2 + mean_b min_a |a-b|^2 -> (B,).

    Squared distances (no square root): smooth gradients, also at coincident points. Nearest
    neighbours are found without autograd, then the loss is recomputed from the matched pairs: the
    same value and gradient as differentiating the min, without a (B, N, M) backward pass.
    """
    with torch.no_grad():
        d = torch.baddbmm(b.square().sum(-1)[:, None, :], a, b.transpose(1, 2), alpha=-2)  # |a-b|^2 - |a|^2
        nearest_b, nearest_a = d.argmin(2), (d + a.square().sum(-1)[:, :, None]).argmin(1)

    def matched(p, q, idx):
        return (p - torch.gather(q, 1, idx[..., None].expand(-1, -1, 3))).square().sum(-1).mean(1)

    return matched(a, b, nearest_b) + matched(b, a, nearest_a)


def gaussian_kl(mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, sigma^2) || N(0, 1)), mean over samples and dimensions."""
    return 0.5 * (mean.square() + (2 * log_sigma).exp() - 1 - 2 * log_sigma).mean()


def autoencoder_loss(model, out: dict, points: torch.Tensor, latent_weight: float = 1.0,
                     kl_weight: float = 1e-4) -> dict:
    """Terms in network units (metres x point_scale, squared): decoded-cloud Chamfer, latent-xyz
    Chamfer (keeps the latent points on the surface, LION-style) and the small KL of the VAE."""
    scale = model.config.point_scale
    target = points * scale
    recon = chamfer_distance(out["recon"] * scale, target).mean()
    latent = chamfer_distance(model.latent_xyz(out["latent"]) * scale, target).mean()
    kl = gaussian_kl(out["mean"], out["log_sigma"])
    return {"loss": recon + latent_weight * latent + kl_weight * kl, "chamfer": recon, "latent_chamfer": latent,
            "kl": kl}


# --------------------------------------------------------------------------- diffusion

@dataclass
class DiffusionBatch:
    """Model-space training inputs for one step (HOI rows first, then object-only rows)."""

    x_t: torch.Tensor          # (N, 563) noisy state
    t_hand: torch.Tensor       # (N,)
    t_object: torch.Tensor     # (N,)
    target: torch.Tensor       # (N, 563) clean x0 (hand part of object-only rows: the noise itself)
    kind: torch.Tensor         # (N,) UNCOND / COND / OBJECT_ONLY

    @property
    def freeze_hand(self) -> torch.Tensor:
        return self.kind == OBJECT_ONLY


def make_diffusion_batch(schedule: CosineSchedule, hand: torch.Tensor, obj: torch.Tensor,
                         object_only: torch.Tensor | None, generator: torch.Generator,
                         sync_timesteps: bool = False) -> DiffusionBatch:
    """Noise a batch (normalised) per the table in the module docstring.

    ``hand`` (B, 51 or 54), ``obj`` (B, 512): HOI samples; ``object_only`` (M, 512) or None.
    """
    device = hand.device
    b = hand.shape[0]
    m = 0 if object_only is None else object_only.shape[0]
    n_cond = 0 if sync_timesteps else b // 2
    kind = torch.tensor([UNCOND] * (b - n_cond) + [COND] * n_cond + [OBJECT_ONLY] * m, device=device)
    t_hand = schedule.sample_timesteps((b + m,), generator, device)
    t_object = t_hand.clone() if sync_timesteps else schedule.sample_timesteps((b + m,), generator, device)
    t_object[kind == COND] = 0
    hand_noise = randn((b + m, hand.shape[1]), generator, device)
    if m:
        if not sync_timesteps:
            t_hand[kind == OBJECT_ONLY] = schedule.num_train_steps
        hand = torch.cat([hand, hand_noise[b:]])   # eq. 14: the hand slot is random noise
        obj = torch.cat([obj, object_only])
    x0 = torch.cat([hand, obj], 1)
    noise = torch.cat([hand_noise, randn(obj.shape, generator, device)], 1)
    x_t = schedule.q_sample(x0, expand_timesteps(t_hand, t_object, hand.shape[1]), noise)
    only = (kind == OBJECT_ONLY)[:, None]
    x_t = torch.cat([torch.where(only, hand, split_state(x_t)[0]), split_state(x_t)[1]], 1)
    return DiffusionBatch(x_t, t_hand, t_object, x0, kind)


def state_joints(hand_model, state: torch.Tensor, rotation: str = "axis_angle") -> torch.Tensor:
    """Joints (B, J, 3) of raw hand states (B, hand_dim) in wrist rotation form ``rotation`` (``hand_state``).

    A 6D wrist: the hand is posed unrotated, then turned about its wrist joint (MANO rotates about the rest
    wrist, which the finger pose does not move: ``jhod_core.hand.rigid``), so no axis-angle is ever formed.
    """
    if rotation == "axis_angle":
        return hand_model(global_orient=state[:, GLOBAL_ORIENT], hand_pose=state[:, HAND_POSE],
                          transl=state[:, TRANSL]).joints
    r = ROTATION_DIMS[rotation]
    pose, transl = state[:, r:r + 45], state[:, r + 45:r + 48]
    local = hand_model(global_orient=torch.zeros_like(transl), hand_pose=pose, transl=torch.zeros_like(transl)).joints
    wrist = local[:, :1]
    matrix = six_d_to_matrix(state[:, :r], torch.stack)
    return (local - wrist) @ matrix.transpose(1, 2) + wrist + transl[:, None]


def hand_geometry_losses(hand_model, pred_state: torch.Tensor, gt_state: torch.Tensor, object_points: torch.Tensor,
                         rotation: str = "axis_angle") -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (15) distance field and eq. (16) joint loss for raw hand states (B, hand_dim), cm^2.

    ``object_points`` (B, P, 3) metres, the objects' input clouds.
    """
    def joints(p):
        return state_joints(hand_model, p, rotation)

    pred_joints = joints(pred_state)
    with torch.no_grad():
        gt_joints = joints(gt_state)
        gt_field = joint_distance_field_torch(gt_joints, object_points)
    field = joint_distance_field_torch(pred_joints, object_points)
    distance = (field - gt_field).square().mean() * M2_TO_CM2
    xyz = (pred_joints - gt_joints).square().mean() * M2_TO_CM2
    return distance, xyz


def diffusion_loss(pred: torch.Tensor, batch: DiffusionBatch, model: JHODDenoiser, hand_model=None,
                   object_points: torch.Tensor | None = None, lambda_distance: float = 0.01,
                   lambda_xyz: float = 0.01) -> dict:
    """Eq. (17): L_uncond + L_cond + L_obj + lambda_d L_distance + lambda_x L_hand_xyz, terms returned too.

    ``pred`` (N, 563) is the network's x0; ``object_points`` (B, P, 3) for the B HOI rows (needed
    with ``hand_model``; without a hand model the geometric terms are 0).
    """
    err_hand, err_obj = (part.mean(1) for part in split_state((pred - batch.target).square()))

    def group(err, k):
        sel = batch.kind == k
        return err[sel].mean() if sel.any() else err.new_zeros(())

    terms = {
        "uncond": group(err_hand, UNCOND) + group(err_obj, UNCOND),
        "cond": group(err_hand, COND) + group(err_obj, COND),
        "object": group(err_obj, OBJECT_ONLY),
    }
    hoi = batch.kind != OBJECT_ONLY
    zero = pred.new_zeros(())
    terms["distance"], terms["hand_xyz"] = zero, zero
    if hand_model is not None and hoi.any():
        pred_params, gt_params = model.denormalize(pred[hoi])[0], model.denormalize(batch.target[hoi])[0]
        terms["distance"], terms["hand_xyz"] = hand_geometry_losses(hand_model, pred_params, gt_params, object_points,
                                                                    model.config.rotation)
    terms["loss"] = (terms["uncond"] + terms["cond"] + terms["object"] + lambda_distance * terms["distance"]
                     + lambda_xyz * terms["hand_xyz"])
    return terms
