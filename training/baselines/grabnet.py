"""A GrabNet-style baseline (Taheri et al. 2020), sized for CPU and trained on our grasps.

    python -m training.baselines.grabnet --out models/grabnet --steps 3000

Design (facts in ../shared/reference/ml_anchors.md sec. 2, our own code):
* object encoding: basis point set, 4096 fixed points uniform in a 0.15 m ball; feature = distance
  from each basis point to the nearest object point (bounding-box-centred object, metres);
* CoarseNet: a conditional VAE, latent 16; encoder (BPS, wrist rotation matrix, translation) ->
  (mu, sigma); decoder (z, BPS) -> MANO parameters; residual blocks of width 512 with BatchNorm;
* RefineNet: 3 iterations of (|hand vertex -> object| distances, current parameters) -> correction,
  trained on ground-truth grasps perturbed like the OakInk port (translation 2 cm, fingers 0.2 rad);
* losses: vertex L1 and hand-to-object distance L1 in metres (GrabNet's weights 35 / 35), KL 0.005.
Deviations: parameters are predicted as axis-angle (GrabNet: 6D per joint) and hand vertices are a
fixed 512-vertex subset of the open hand (speed); both networks train together on the same
rotation-augmented data as the JHOD denoiser (``training.data.augmentation.RotationAugmentation``'s rotations).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jhod_core.hand.params import GLOBAL_ORIENT, HAND_POSE, TRANSL  # noqa: E402

BPS_POINTS = 4096
BPS_RADIUS = 0.15
LATENT = 16
WIDTH = 512
REFINE_ITERS = 3
HAND_SUBSET = 512
KL_WEIGHT = 0.005


def bps_basis(seed: int = 0) -> np.ndarray:
    """4096 points uniform in a ball of radius 0.15 m (fixed by the seed)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(BPS_POINTS, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return (d * BPS_RADIUS * rng.random((BPS_POINTS, 1)) ** (1 / 3)).astype(np.float32)


def bps_features(basis: torch.Tensor, clouds: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """(B, 4096) distances from each basis point to its nearest cloud point; clouds (B, P, 3)."""
    out = []
    for i in range(0, len(clouds), chunk):
        out.append(torch.cdist(basis[None].expand(len(clouds[i:i + chunk]), -1, -1), clouds[i:i + chunk]).amin(2))
    return torch.cat(out)


class ResBlock(nn.Module):
    def __init__(self, fin: int, fout: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(fin, fout), nn.BatchNorm1d(fout), nn.LeakyReLU(0.2),
                                  nn.Linear(fout, fout), nn.BatchNorm1d(fout))
        self.skip = nn.Identity() if fin == fout else nn.Sequential(nn.Linear(fin, fout), nn.LeakyReLU(0.2))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


class CoarseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_bn = nn.BatchNorm1d(BPS_POINTS + 12)
        self.enc1, self.enc2 = ResBlock(BPS_POINTS + 12, WIDTH), ResBlock(WIDTH + BPS_POINTS + 12, WIDTH)
        self.mu, self.sigma = nn.Linear(WIDTH, LATENT), nn.Linear(WIDTH, LATENT)
        self.dec_bn = nn.BatchNorm1d(BPS_POINTS)
        self.dec1, self.dec2 = ResBlock(LATENT + BPS_POINTS, WIDTH), ResBlock(WIDTH + LATENT + BPS_POINTS, WIDTH)
        self.out = nn.Linear(WIDTH, 51)

    def encode(self, bps, rotmat, transl):
        x = self.enc_bn(torch.cat([bps, rotmat.flatten(1), transl], 1))
        h = self.enc2(torch.cat([self.enc1(x), x], 1))
        return torch.distributions.Normal(self.mu(h), nn.functional.softplus(self.sigma(h)) + 1e-4)

    def decode(self, z, bps):
        x = torch.cat([z, self.dec_bn(bps)], 1)
        return self.out(self.dec2(torch.cat([self.dec1(x), x], 1)))


class RefineNet(nn.Module):
    def __init__(self):
        super().__init__()
        fin = HAND_SUBSET + 51
        self.bn = nn.BatchNorm1d(HAND_SUBSET)
        self.blocks = nn.ModuleList([ResBlock(fin, WIDTH), ResBlock(WIDTH + fin, WIDTH), ResBlock(WIDTH + fin, WIDTH)])
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(WIDTH, 51)

    def forward(self, params, h2o):
        x = torch.cat([self.bn(h2o), params], 1)
        h = self.drop(self.blocks[0](x))
        for block in self.blocks[1:]:
            h = self.drop(block(torch.cat([h, x], 1)))
        return params + self.out(h)


class GrabNetBaseline(nn.Module):
    def __init__(self):
        super().__init__()
        self.coarse, self.refine = CoarseNet(), RefineNet()
        self.register_buffer("basis", torch.from_numpy(bps_basis()))
        self.register_buffer("hand_ids", torch.zeros(HAND_SUBSET, dtype=torch.long))
        self.register_buffer("param_mean", torch.zeros(51))
        self.register_buffer("param_std", torch.ones(51))

    def refine_steps(self, hand_model, params_n, clouds):
        """REFINE_ITERS corrections of normalised params, each seeing fresh hand-to-object distances."""
        for _ in range(REFINE_ITERS):
            with torch.no_grad():  # the distances are an input feature; no gradient flows through them
                verts = hand_model(**split(self.raw(params_n))).vertices[:, self.hand_ids]
                h2o = torch.cdist(verts, clouds).amin(2)
            params_n = self.refine(params_n, h2o)
        return params_n

    def raw(self, params_n):
        return params_n * self.param_std + self.param_mean

    @torch.no_grad()
    def sample(self, hand_model, cloud: torch.Tensor, num: int, seed: int = 0) -> np.ndarray:
        """``num`` raw MANO parameter rows (num, 51) for one centred object cloud (P, 3)."""
        self.eval()
        clouds = cloud[None].expand(num, -1, -1)
        bps = bps_features(self.basis, clouds)
        z = torch.randn(num, LATENT, generator=torch.Generator().manual_seed(seed))
        params_n = self.refine_steps(hand_model, self.coarse.decode(z, bps), clouds)
        return self.raw(params_n).numpy()


def split(params):
    return {"global_orient": params[:, GLOBAL_ORIENT], "hand_pose": params[:, HAND_POSE], "transl": params[:, TRANSL]}


def rotmat(axis_angle: torch.Tensor) -> torch.Tensor:
    angle = axis_angle.norm(dim=1, keepdim=True).clamp_min(1e-8)
    k = axis_angle / angle
    zero = torch.zeros_like(k[:, 0])
    kx = torch.stack([zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero], 1).view(-1, 3, 3)
    s, c = angle.sin()[..., None], angle.cos()[..., None]
    return torch.eye(3) + s * kx + (1 - c) * kx @ kx


def main(argv=None) -> int:
    from jhod_core.hand import HandModel
    from jhod_core.torch.autoencoder import ObjectAutoencoder
    from training.data.corpus import load_object_points, split_ids
    from training.data.grasps import GraspDataset, load_grasps
    from training.data.augmentation import RotationAugmentation

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grasps", default="data/grasps")
    p.add_argument("--objects", default="data/objects")
    p.add_argument("--autoencoder", default="jhod_core/assets/model/autoencoder.npz",
                   help="only used to reuse the denoiser's augmentation code (latents are ignored)")
    p.add_argument("--out", default="models/grabnet")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--rotations", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ids, points, _ = load_object_points(args.objects)
    ds = GraspDataset(load_grasps(args.grasps), ids, points, set(split_ids(args.objects, "train")))
    autoencoder = ObjectAutoencoder.load(args.autoencoder).eval()
    augment = RotationAugmentation(autoencoder, points, np.unique(ds.object_index), args.rotations, args.seed, "cpu")
    hand_model = HandModel()
    model = GrabNetBaseline()
    model.hand_ids.copy_(torch.from_numpy(np.random.default_rng(0).permutation(hand_model.data.num_vertices)
                                          [:HAND_SUBSET]))
    rng = np.random.default_rng(args.seed)

    # BPS of every (object, rotation), computed once: (objects, K, 4096)
    objects = np.unique(ds.object_index)
    t = time.perf_counter()
    bps_table = torch.stack([bps_features(model.basis, torch.as_tensor(
        augment.apply(np.full(len(augment.rotations), augment.row[int(o)]), np.arange(len(augment.rotations)),
                      np.zeros((len(augment.rotations), 51)), np.repeat(points[o:o + 1], len(augment.rotations), 0))[2],
        dtype=torch.float32)) for o in objects])
    print(f"BPS of {len(objects)} objects x {len(augment.rotations)} rotations: {time.perf_counter() - t:.1f} s",
          flush=True)

    def draw(batch):
        idx = rng.integers(0, len(ds), batch)
        obj = ds.object_index[idx]
        rows, which = augment.pick(rng, obj)
        params, _, clouds = augment.apply(rows, which, ds.params[idx], ds.points[obj].astype(np.float32))
        return (torch.as_tensor(params, dtype=torch.float32), torch.as_tensor(clouds, dtype=torch.float32),
                bps_table[rows, which])

    sample_params = torch.cat([draw(1000)[0] for _ in range(10)])
    subsample = torch.as_tensor(np.random.default_rng(1).permutation(points.shape[1])[:512])
    model.param_mean.copy_(sample_params.mean(0))
    model.param_std.copy_(sample_params.std(0).clamp_min(1e-3))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    history, t0 = [], time.perf_counter()
    for step in range(args.steps):
        params, clouds, bps = draw(args.batch)
        clouds = clouds[:, subsample]  # 512 object points for the distance losses (speed)
        params_n = (params - model.param_mean) / model.param_std
        with torch.no_grad():
            gt_verts = hand_model(**split(params)).vertices[:, model.hand_ids]
            gt_h2o = torch.cdist(gt_verts, clouds).amin(2)
        posterior = model.coarse.encode(bps, rotmat(params[:, GLOBAL_ORIENT]), params[:, TRANSL])
        z = posterior.rsample()
        coarse_n = model.coarse.decode(z, bps)
        # RefineNet trains on perturbed ground truth (translation 2 cm, fingers 0.2 rad)
        noise = torch.zeros_like(params)
        noise[:, TRANSL] = 0.02 * torch.randn(len(params), 3)
        noise[:, HAND_POSE] = 0.2 * torch.randn(len(params), 45)
        refined_n = model.refine_steps(hand_model, params_n + noise / model.param_std, clouds)
        loss_terms = {}
        for name, pred_n in (("coarse", coarse_n), ("refine", refined_n)):
            verts = hand_model(**split(model.raw(pred_n))).vertices[:, model.hand_ids]
            h2o = torch.cdist(verts, clouds).amin(2)
            # metres, as GrabNet: against KL_WEIGHT's pull to the prior (in centimetres the reconstruction
            # outweighed it 100x, the latent drifted off N(0, I) and prior samples all decoded to one grasp)
            loss_terms[name] = 35 * (verts - gt_verts).abs().mean() + 35 * (h2o - gt_h2o).abs().mean()
        kl = torch.distributions.kl_divergence(posterior, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
        loss = (1 - KL_WEIGHT) * (loss_terms["coarse"] + loss_terms["refine"]) + KL_WEIGHT * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (step + 1) % 50 == 0:
            history.append({"step": step + 1, "loss": loss.item(), "kl": kl.item(),
                            **{k: v.item() for k, v in loss_terms.items()},
                            "seconds": time.perf_counter() - t0})
            print(json.dumps(history[-1]), flush=True)
    torch.save({"state_dict": model.state_dict(), "history": history, "args": vars(args)}, out / "grabnet.pt")
    return 0


def load(path) -> GrabNetBaseline:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = GrabNetBaseline()
    model.load_state_dict(blob["state_dict"])
    return model.eval()


if __name__ == "__main__":
    sys.exit(main())
