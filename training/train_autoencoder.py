"""Stage 1: pre-train the object autoencoder on the object corpus, then freeze it.

    python training/train_autoencoder.py --objects data/objects --out out/autoencoder
    torchrun --nproc_per_node 4 training/train_autoencoder.py ...   # multi-GPU, same arguments

Trains on the corpus splits in ``--splits`` (default ``train``; ``train,val`` for a final model; test
and ood_test never), reports the validation Chamfer on ``--val-split``. The encoder sees a fresh
random ``--encoder-points`` subset of each object's 2048 points per draw (the paper resamples the
cloud every draw); the decoder must rebuild all 2048. At the end the latent statistics (per
dimension, posterior means of the training objects) are stored in the model, which is written to
``<out>/autoencoder.pt`` (weights + config, ``torch.load(weights_only=True)``); ``<out>/ckpt.pt``
holds the optimiser too for ``--resume``; ``<out>/curves.png`` the training curves.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from jhod_core.torch.autoencoder import AutoencoderConfig, ObjectAutoencoder  # noqa: E402
from training import runtime  # noqa: E402
from training.data.corpus import load_object_points, split_ids  # noqa: E402
from training.losses import autoencoder_loss, chamfer_distance  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", nargs="+", default=["data/objects"],
                   help="object corpus folder(s), e.g. data/objects data/objects_everyday")
    p.add_argument("--out", default="out/autoencoder")
    p.add_argument("--splits", default="train", help="comma-separated corpus splits to train on")
    p.add_argument("--val-split", default="val")
    runtime.add_loop_arguments(p, steps=3000, batch=16, batch_help="objects per step and process", lr=1e-3,
                               warmup=100, log_every=20, eval_every=250)
    p.add_argument("--encoder-points", type=int, default=1024)
    p.add_argument("--kl-weight", type=float, default=1e-4)
    p.add_argument("--latent-weight", type=float, default=1.0)
    p.add_argument("--eval-objects", type=int, default=128)
    d = AutoencoderConfig()
    p.add_argument("--stage1", default=",".join(map(str, d.stage1)))
    p.add_argument("--stage2", default=",".join(map(str, d.stage2)))
    p.add_argument("--head-hidden", type=int, default=d.head_hidden)
    p.add_argument("--context", type=int, default=d.context)
    p.add_argument("--patch-hidden", type=int, default=d.patch_hidden)
    p.add_argument("--neighbours", type=int, default=d.neighbours,
                   help="the decoder sees each latent point's k nearest latent points (0: off)")
    return p.parse_args(argv)


def model_config(args) -> AutoencoderConfig:
    widths = lambda s: tuple(int(v) for v in s.split(","))  # noqa: E731
    return AutoencoderConfig(stage1=widths(args.stage1), stage2=widths(args.stage2), head_hidden=args.head_hidden,
                             context=args.context, patch_hidden=args.patch_hidden,
                             neighbours=args.neighbours)


@torch.no_grad()
def encode_all(model, points: np.ndarray, device, batch: int = 64) -> torch.Tensor:
    """Posterior means (N, 512) of full clouds, in eval mode."""
    model.eval()
    out = [model.encode(torch.from_numpy(points[i:i + batch]).to(device)).cpu() for i in range(0, len(points), batch)]
    model.train()
    return torch.cat(out) if out else torch.zeros(0, 512)


@torch.no_grad()
def evaluate_chamfer(model, points: np.ndarray, device) -> dict:
    """Validation: deterministic reconstruction from the posterior mean; Chamfer in metres^2 and the
    RMS nearest-neighbour distance sqrt(CD / 2) in millimetres (easier to read)."""
    model.eval()
    cds = []
    for i in range(0, len(points), 32):
        pts = torch.from_numpy(points[i:i + 32]).to(device)
        cds.append(chamfer_distance(model.decode(model.encode(pts)), pts).cpu())
    model.train()
    cd = torch.cat(cds).mean().item()
    return {"chamfer_m2": cd, "rms_nn_mm": 1000 * (cd / 2) ** 0.5}


def render_reconstructions(model, points: np.ndarray, path, device) -> None:
    """Input (grey) vs reconstruction (blue) vs latent points (red) for a few validation objects."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        model.eval()
        pts = torch.from_numpy(points).to(device)
        latent = model.encode(pts)
        recon, xyz = model.decode(latent).cpu().numpy(), model.latent_xyz(latent).cpu().numpy()
        model.train()
    fig = plt.figure(figsize=(3 * len(points), 3.2))
    for k in range(len(points)):
        ax = fig.add_subplot(1, len(points), k + 1, projection="3d")
        ax.scatter(*points[k].T, s=0.3, c="0.6")
        ax.scatter(*recon[k].T, s=0.3, c="tab:blue")
        ax.scatter(*xyz[k].T, s=2, c="tab:red")
        ax.set_axis_off()
        ax.set_box_aspect(np.ptp(points[k], axis=0) + 1e-3)
    fig.suptitle("grey: input, blue: reconstruction, red: the 128 latent points", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    rt, out = runtime.start(args)
    if {"test", "ood_test", "ood_family"} & set(args.splits.split(",")):
        raise SystemExit("test and ood_test objects are never trained on")
    ids, points, _ = load_object_points(args.objects)
    train_ids = {i for s in args.splits.split(",") for i in split_ids(args.objects, s)}
    train_points = points[[str(i) in train_ids for i in ids]]
    val_ids = set(split_ids(args.objects, args.val_split)) if args.val_split else set()
    val_points = points[[str(i) in val_ids for i in ids]]
    if len(val_points) > args.eval_objects:  # spread over every corpus and family, not the first folder's
        val_points = val_points[np.linspace(0, len(val_points) - 1, args.eval_objects).astype(int)]

    model = ObjectAutoencoder(model_config(args)).to(rt.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    n_params = sum(p.numel() for p in model.parameters())
    if rt.is_main:
        print(f"autoencoder: {n_params / 1e6:.2f} M parameters, {len(train_points)} training objects "
              f"({args.splits}), {len(val_points)} validation objects, device {rt.device} x {rt.world_size}")

    def step_loss(net, rng, gen):
        idx = rng.integers(0, len(train_points), args.batch)
        target = torch.from_numpy(train_points[idx]).to(rt.device)
        subset = np.argsort(rng.random((args.batch, target.shape[1])), axis=1)[:, : args.encoder_points]
        encoder_in = torch.gather(target, 1, torch.from_numpy(subset).to(rt.device)[..., None].expand(-1, -1, 3))
        return autoencoder_loss(model, net(encoder_in, generator=gen), target, args.latent_weight, args.kl_weight)

    evaluate = (lambda: evaluate_chamfer(model, val_points, rt.device)) if len(val_points) else None
    history = runtime.train(args, rt, out, model, optimizer, step_loss, args.batch, evaluate)

    if rt.is_main:
        latents = encode_all(model, train_points, rt.device)
        model.latent_mean.copy_(latents.mean(0))
        model.latent_std.copy_(latents.std(0))
        runtime.save_atomic({"state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "step": args.steps, "history": history, "config": asdict(model.config),
                             "args": vars(args)}, out / "ckpt.pt")  # with the latent statistics
        model.save(out / "autoencoder.pt", {"train_splits": args.splits, "steps": args.steps})
        runtime.plot_history(history, out / "curves.png", f"object autoencoder ({n_params / 1e6:.2f} M params)")
        if len(val_points):
            render_reconstructions(model, val_points[:4], out / "reconstructions.png", rt.device)
        summary = {"parameters": n_params, "final": history[-1] if history else None,
                   "weights_mb": (out / "autoencoder.pt").stat().st_size / 2**20}
        runtime.write_summary(out, summary)
    runtime.teardown(rt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
