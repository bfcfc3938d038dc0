"""Stage 2: train the JHOD denoiser on grasps (HOI) and object-only data, the autoencoder frozen.

    python training/train_diffusion.py --grasps data/grasps --objects data/objects \
        --autoencoder out/autoencoder/autoencoder.pt --out out/diffusion
    torchrun --nproc_per_node 4 training/train_diffusion.py ...   # multi-GPU, same arguments

Each step draws ``--batch`` grasps of the ``--split`` objects (half unconditional, half conditional,
eq. 11-12) and ``--object-only-batch`` clouds of all objects of that split, with or without grasps
(eq. 13-14), and minimises eq. (17) (``training.losses``, which documents the masks). Object
latents are the frozen encoder's posterior means, computed once at start. ``--controls`` trains the model v2
controls (target point, approach direction, grasp type, measured on each grasp by ``jhod_core.steering``), each
given to the network with probability ``--control-keep`` per row (condition dropout). Ablations:
``--sync-timesteps`` (t_H = t_O, Table 4) and ``--no-object-only`` (Table 2). ``--ema DECAY`` saves an exponential
moving average of the weights as the model (the last weights as ``denoiser_last.pt``).

Writes ``<out>/ckpt.pt`` (resume with ``--resume``), ``<out>/denoiser.pt`` (weights, config and
normalisation statistics; ``JHODDenoiser.load``, ``torch.load(weights_only=True)``),
``<out>/denoiser.npz`` (the shipped format, ``jhod_core.model.weights_file``) and ``<out>/curves.png``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from jhod_core.hand import HandModel, load_hand_data  # noqa: E402
from jhod_core.hand.model_file import OPEN_HAND_FILE  # noqa: E402
from jhod_core.model import surface_features  # noqa: E402
from jhod_core.torch.autoencoder import ObjectAutoencoder  # noqa: E402
from jhod_core.torch.denoiser import CONFIGS, JHODDenoiser  # noqa: E402
from jhod_core.torch.schedule import CosineSchedule  # noqa: E402
from training import runtime  # noqa: E402
from training.data.corpus import load_object_points, manifest_by_id, split_ids  # noqa: E402
from training.data.augmentation import RotationAugmentation, encode_objects  # noqa: E402
from jhod_core.model import hand_state, spec  # noqa: E402
from jhod_core.steering import control_vectors  # noqa: E402
from training.data.grasps import (  # noqa: E402
    SOURCES, GraspDataset, balance_palms, grasp_controls, load_grasps, select_grasps)
from training.losses import diffusion_loss, make_diffusion_batch  # noqa: E402

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grasps", nargs="+", default=["data/grasps"],
                   help="grasp dataset folder(s), e.g. data/grasps data/grasps_everyday")
    p.add_argument("--objects", nargs="+", default=["data/objects"],
                   help="object corpus folder(s), e.g. data/objects data/objects_everyday")
    p.add_argument("--autoencoder", default="out/autoencoder/autoencoder.pt")
    p.add_argument("--out", default="out/diffusion")
    p.add_argument("--sources", default=None,
                   help="train only on grasps of these sources, comma-separated (optimiser, model); default all. "
                        "The data engine's bootstrap grasps carry the proposing model's habits")
    p.add_argument("--balance-palms", action="store_true",
                   help="drop model-proposed grasps with the palm up or down on upright objects until, per family, "
                        "their share is the optimiser's (training.data.grasps.balance_palms)")
    p.add_argument("--split", default="train", help="corpus split of the training grasps and object-only data")
    p.add_argument("--val-split", default="val", help="grasps of this split give the validation loss, if any")
    p.add_argument("--config", "--preset", dest="config", default="default", choices=sorted(CONFIGS),
                   help="network size: cpu (= default, the shipped size) or paper (512-d tokens, 8 layers)")
    p.add_argument("--d-model", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--ff", type=int)
    p.add_argument("--encoder-hidden", type=int)
    p.add_argument("--dropout", type=float)
    runtime.add_loop_arguments(p, steps=20000, batch=64, batch_help="HOI samples per step and process", lr=1e-4,
                               warmup=500, log_every=50, eval_every=1000)
    p.add_argument("--object-only-batch", type=int, default=None, help="object-only samples (default: batch / 2)")
    p.add_argument("--no-object-only", action="store_true", help="ablation: HOI data only (Table 2)")
    p.add_argument("--sync-timesteps", action="store_true", help="ablation: t_H = t_O (Table 4)")
    p.add_argument("--lambda-distance", type=float, default=0.01, help="weight of eq. 15 (cm^2)")
    p.add_argument("--lambda-xyz", type=float, default=0.01, help="weight of eq. 16 (cm^2)")
    p.add_argument("--rotations", type=int, default=32,
                   help="rotation augmentation: fixed rotations per grasped object (1 = off)")
    p.add_argument("--rotation-form", choices=sorted(hand_state.ROTATION_DIMS), default="axis_angle",
                   help="wrist rotation form of the hand state: axis_angle (MANO's 3 numbers, the shipped model) "
                        "or 6d (two matrix columns: no seam at 180 degrees)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="also keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                        "save it as the model (the last weights beside it); 0: off")
    p.add_argument("--controls", action="store_true",
                   help="train with controls (target point, approach, grasp type) for steering")
    p.add_argument("--control-keep", type=float, default=0.5,
                   help="probability that each control is given to the network in a training row")
    p.add_argument("--surface", action="store_true",
                   help="give the network surface features in conditional rows (jhod_core.model.surface_features: "
                        "the offset from each keypoint of the noised hand to the object's nearest point)")
    p.add_argument("--surface-keep", type=float, default=0.9,
                   help="probability that a conditional row gets its surface features (the rest: none, as joint "
                        "sampling has none)")
    p.add_argument("--skip", action="store_true",
                   help="x0 = sqrt(abar) x_t + sqrt(1 - abar) F(x_t) (v-prediction's x0): near-clean inputs pass "
                        "through instead of being rebuilt by the network")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--eval-batches", type=int, default=4)
    args = p.parse_args(argv)
    if args.sources is not None and not set(args.sources.split(",")) <= set(SOURCES):
        p.error(f"--sources takes {' and/or '.join(SOURCES)}, comma-separated; got {args.sources!r}")
    return args


def model_config(args):
    overrides = {k: getattr(args, k) for k in ("d_model", "layers", "heads", "ff", "encoder_hidden", "dropout")
                 if getattr(args, k) is not None}
    return replace(CONFIGS[args.config], sync_timesteps=args.sync_timesteps, controls=args.controls,
                   rotation=args.rotation_form, surface=args.surface, skip=args.skip, **overrides)


class Data:
    """Grasps of one split with their objects' clouds and frozen-encoder latents (raw)."""

    def __init__(self, ds: GraspDataset, latents: torch.Tensor, augment: RotationAugmentation | None = None,
                 controls: dict | None = None, control_keep: float = 0.5, rotation: str = "axis_angle"):
        self.ds = ds
        self.latents = latents
        self.augment = augment
        self.controls, self.control_keep = controls, control_keep
        self.rotation = rotation  # the wrist rotation form the network sees (hand_state)

    def draw(self, rng: np.random.Generator, batch: int, object_only: int, device):
        """Raw (hand states (B, hand_dim), object latents (B, 512), clouds (B, P, 3), object-only latents (M, 512),
        controls (B + M, CONTROL_DIM) or None; object-only rows ask for nothing)."""
        ds = self.ds
        idx = rng.integers(0, len(ds), batch)
        obj = ds.object_index[idx]
        only = ds.object_only_index[rng.integers(0, len(ds.object_only_index), object_only)]
        params, latents, clouds = ds.params[idx], self.latents[obj], ds.points[obj].astype(np.float32)
        rot, off = np.broadcast_to(np.eye(3), (batch, 3, 3)), np.zeros((batch, 3))
        if self.augment is not None:
            rows, which = self.augment.pick(rng, obj)
            params, latents, clouds = self.augment.apply(rows, which, params, clouds)
            rot, off = self.augment.frames(rows, which)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32).to(device)  # noqa: E731
        control = None
        if self.controls is not None:  # the labels move with the object; each is given with probability keep
            keep = rng.random((batch, 3)) < self.control_keep
            near = np.einsum("bij,bj->bi", rot, self.controls["near"][idx]) - off
            approach = np.einsum("bij,bj->bi", rot, self.controls["approach"][idx])
            near[~keep[:, 0]], approach[~keep[:, 1]] = np.nan, np.nan
            kind = np.where(keep[:, 2], self.controls["type_index"][idx], -1)
            control = t(np.concatenate([control_vectors(batch, near, approach, kind),
                                        np.zeros((object_only, spec.CONTROL_DIM), np.float32)]))
        return (t(hand_state.to_state(params, self.rotation)), latents.to(device), t(clouds),
                self.latents[only].to(device), control)


def main(argv=None) -> int:
    args = parse_args(argv)
    rt, out = runtime.start(args)
    object_only = 0 if args.no_object_only else (args.batch // 2 if args.object_only_batch is None
                                                  else args.object_only_batch)

    # data: grasps, clouds, frozen autoencoder latents
    grasps = load_grasps(args.grasps)
    if args.sources:
        keep = np.isin(grasps["source"], args.sources.split(","))
        print(f"--sources {args.sources}: {int(keep.sum())} of {len(keep)} grasps", flush=True)
        grasps = select_grasps(grasps, keep)
    if args.balance_palms:
        keep = balance_palms(grasps, manifest_by_id(args.objects), args.seed)
        print(f"--balance-palms: {int(keep.sum())} of {len(keep)} grasps", flush=True)
        grasps = select_grasps(grasps, keep)
    ids, points, normals = load_object_points(args.objects)
    autoencoder = ObjectAutoencoder.load(args.autoencoder, map_location=rt.device).eval().requires_grad_(False)
    splits = {s: split_ids(args.objects, s) for s in {args.split, args.val_split} if s}
    wanted = {i for s in splits.values() for i in s}
    latents = encode_objects(autoencoder, points, np.flatnonzero([str(i) in wanted for i in ids]), rt.device)

    def data(split):
        ds = GraspDataset(grasps, ids, points, set(split))
        augment = None
        if args.rotations > 1 and len(ds):
            augment = RotationAugmentation(autoencoder, points, np.unique(ds.object_index), args.rotations,
                                           args.seed, rt.device)
        controls = grasp_controls(ds, normals) if args.controls and len(ds) else None
        return Data(ds, latents, augment, controls, args.control_keep, args.rotation_form)

    train = data(splits[args.split])
    val = data(splits[args.val_split]) if args.val_split else None
    if len(train.ds) == 0:
        raise SystemExit(f"no grasps of split {args.split} in {args.grasps}")
    if val is not None and len(val.ds) == 0:
        val = None

    model = JHODDenoiser(model_config(args))
    # statistics of the hand parameters as the network sees them (after augmentation)
    stats_rng = np.random.default_rng(args.seed)
    params = np.concatenate([train.draw(stats_rng, 1000, 0, "cpu")[0].numpy() for _ in range(20)])
    model.set_statistics(params.mean(0), params.std(0), autoencoder.latent_mean, autoencoder.latent_std)
    model.to(rt.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    hand_model = HandModel().to(rt.device)
    schedule = CosineSchedule(model.config.num_train_steps)
    n_params = sum(p.numel() for p in model.parameters())
    if rt.is_main:
        print(f"denoiser: {n_params / 1e6:.2f} M parameters ({args.config}), {len(train.ds)} grasps / "
              f"{len(train.ds.object_only_index)} objects ({args.split}), val grasps {len(val.ds) if val else 0}, "
              f"batch {args.batch} HOI + {object_only} object-only x {rt.world_size} on {rt.device}")

    open_hand = load_hand_data(OPEN_HAND_FILE)  # the hand the grasps are stored for, as sampling poses it
    abar = spec.cosine_alphas_cumprod(model.config.num_train_steps)

    def surface_rows(batch, clouds, rng):
        """Surface features (B + M, DIM) as the reverse loop computes them: for conditional rows (clean object),
        each kept with probability ``--surface-keep``, from the noised hand; zeros elsewhere."""
        out = np.zeros((len(batch.x_t), surface_features.DIM), np.float32)
        rows = np.flatnonzero(batch.t_object.cpu().numpy() == 0)
        rows = rows[(rows < len(clouds)) & (rng.random(len(rows)) < args.surface_keep)]
        if len(rows):
            hand = batch.x_t[rows, :model.hand_dim].detach().cpu().double().numpy()
            keypoints = surface_features.keypoints_of_state(
                hand, abar[batch.t_hand[rows].cpu().numpy()], model.hand_mean.cpu().double().numpy(),
                model.hand_std.cpu().double().numpy(), model.config.rotation, open_hand)
            out[rows] = surface_features.surface_features(keypoints, clouds[rows].cpu().numpy())
        return torch.as_tensor(out, device=rt.device)

    def loss_on(data, rng, gen, net):
        hand, obj, clouds, only, control = data.draw(rng, args.batch, object_only, rt.device)
        hand, obj = model.normalize(hand, obj)
        only = model.normalize(None, only)[1] if object_only else None
        batch = make_diffusion_batch(schedule, hand, obj, only, gen, args.sync_timesteps)
        surface = surface_rows(batch, clouds, rng) if args.surface else None
        pred = net(batch.x_t, batch.t_hand, batch.t_object, freeze_hand=batch.freeze_hand, control=control,
                   surface=surface)
        return diffusion_loss(pred, batch, model, hand_model, clouds, args.lambda_distance, args.lambda_xyz)

    @torch.no_grad()
    def evaluate(net=model):
        """Validation loss on fixed draws (same noise every time: curves are comparable)."""
        v_rng, v_gen = runtime.generators(args.seed, 10_000, 0)
        sums = {}
        for _ in range(args.eval_batches):
            for k, v in loss_on(val, v_rng, v_gen, net).items():
                sums[k] = sums.get(k, 0.0) + v.item() / args.eval_batches
        return sums

    ema = runtime.WeightEMA(model, args.ema) if args.ema else None
    history = runtime.train(args, rt, out, model, optimizer, lambda net, rng, gen: loss_on(train, rng, gen, net),
                            args.batch + object_only, evaluate if val is not None else None, ema)

    if rt.is_main:
        info = {"autoencoder": str(args.autoencoder), "steps": args.steps}
        if ema is not None:  # the average is the model; the last weights stay beside it for comparison
            model.save(out / "denoiser_last.pt", {**info, "weights": "last", "train_args": vars(args)})
            info["weights"] = f"average (decay {args.ema})"
        final = model if ema is None else ema.model
        final.save(out / "denoiser.pt", {**info, "train_args": vars(args)})
        final.save(out / "denoiser.npz", info)
        runtime.plot_history(history, out / "curves.png", f"JHOD denoiser ({n_params / 1e6:.2f} M params)")
        rates = [h["samples_per_s"] for h in history if "samples_per_s" in h]
        summary = {"parameters": n_params, "config": asdict(model.config),
                   "samples_per_s": float(np.median(rates)) if rates else None,
                   "weights_mb": (out / "denoiser.pt").stat().st_size / 2**20,
                   "final": [h for h in history if h["split"] == "train"][-1:]}
        runtime.write_summary(out, summary)
    runtime.teardown(rt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
