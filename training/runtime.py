"""What both training scripts share: device / DDP setup, seeded generators, learning rate, the training loop
(``train``: resume, schedule, logging, evaluation, checkpoints), files, plots.

DDP: launched by ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its own device with its own
random stream (seed, rank, step) and gradients are averaged; a plain ``python`` run is one process.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class Runtime:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Runtime:
    """Device ('auto': cuda if available, else cpu) and, under torchrun, the process group."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank, local_rank = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Runtime(rank, world, torch.device(device))


def write_summary(out: Path, summary: dict) -> None:
    """<out>/summary.json, and the same on stdout (the last line of a run's log)."""
    import json

    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


def teardown(rt: Runtime) -> None:
    if rt.distributed:
        torch.distributed.destroy_process_group()


def generators(seed: int, rank: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    """Per-rank NumPy (data) and torch (noise) streams, re-derived from the step on resume."""
    seq = np.random.SeedSequence([seed, rank, step])
    torch_seed = int(seq.generate_state(2, dtype=np.uint32)[1])
    return np.random.default_rng(seq), torch.Generator().manual_seed(torch_seed)


def learning_rate(step: int, base: float, warmup: int, total: int, floor: float = 0.1) -> float:
    """Linear warmup, then cosine decay to ``floor`` x base at ``total`` (nanoGPT)."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_atomic(obj, path) -> None:
    """torch.save via a temporary file: a killed run never leaves a half-written checkpoint."""
    from jhod_core.io.atomic import atomic_write

    atomic_write(path, write=lambda tmp: torch.save(obj, tmp))


def checkpoint_line(step: int, total: int, history: list[dict]) -> str:
    """One line per checkpoint for logs without a progress bar (``--no-progress``, background runs)."""
    last = next((h for h in reversed(history) if h["split"] == "train"), {})
    rate = f", {last['samples_per_s']:.0f} samples/s" if "samples_per_s" in last else ""
    loss = f"loss {last['loss']:.4g}" if "loss" in last else "no loss logged yet"
    return f"step {step}/{total}: {loss}{rate}; checkpoint saved"


def plot_history(history: list[dict], path, title: str) -> None:
    """Training curves: one log-scale panel per logged quantity (keys other than 'step'/'split')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for h in history for k in h if k not in ("step", "split")})
    cols = min(3, len(keys)) or 1
    rows = math.ceil(len(keys) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for split in ("train", "val", "val_ema"):
            pts = [(h["step"], h[key]) for h in history if h.get("split") == split and key in h]
            if pts:
                ax.plot(*zip(*pts), label=split, marker=None if split == "train" else ".")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if all(h[key] > 0 for h in history if key in h):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- the training loop both scripts share

def add_loop_arguments(p, *, steps: int, batch: int, batch_help: str, lr: float, warmup: int, log_every: int,
                       eval_every: int) -> None:
    """The arguments of ``train``: steps, batch, optimiser schedule, logging, resume, device, threads."""
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch, help=batch_help)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=log_every)
    p.add_argument("--eval-every", type=int, default=eval_every)
    p.add_argument("--resume", action="store_true", help="continue from <out>/ckpt.pt")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default; on a busy CPU 1 can be several times faster)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--amp", action="store_true",
                   help="bf16 autocast for the forward passes (CUDA only; the weights and optimiser stay fp32)")


def start(args) -> tuple[Runtime, Path]:
    """Device / DDP set-up, threads, and the output folder."""
    rt = setup(args.device)
    if getattr(args, "amp", False) and torch.device(rt.device).type != "cuda":
        raise SystemExit(f"--amp needs a CUDA device (this run is on {rt.device})")
    if args.threads:
        torch.set_num_threads(args.threads)
    # torch's own start-up seed differs per process: without this, weight initialisation and dropout made two runs
    # of one command differ (training noise that --seed could not reproduce)
    torch.manual_seed(args.seed + rt.rank)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return rt, out


class WeightEMA:
    """An exponential moving average of a model's weights (diffusion models sample better from it than from the last
    weights, which still carry the last steps' gradient noise). The decay ramps up as (1 + n) / (10 + n) so the
    average does not start from the random initial weights."""

    def __init__(self, model, decay: float):
        import copy

        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema, live = list(self.model.parameters()), list(model.parameters())
        torch._foreach_lerp_(ema, live, 1.0 - decay)

    def state_dict(self) -> dict:
        return {"state_dict": self.model.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["state_dict"])
        self.updates = state["updates"]


def train(args, rt: Runtime, out: Path, model, optimizer, step_loss, samples_per_step: int, evaluate=None,
          ema: WeightEMA | None = None) -> list:
    """Train ``model`` to ``args.steps`` and return the history (list of dicts, train and val rows).

    ``step_loss(net, rng, gen)`` draws a batch with the NumPy ``rng`` / torch ``gen`` streams and returns the loss
    terms (tensors, ``loss`` among them) computed through ``net`` (the DDP wrapper under torchrun).
    ``evaluate()`` (optional) returns validation numbers. Resumes from ``<out>/ckpt.pt`` with ``--resume``
    (model, optimiser, step, history; the random streams are re-derived from the step); every ``--eval-every``
    steps and at the end: validation, then an atomic checkpoint. ``ema`` (optional) is updated after every step,
    checkpointed and resumed with the model; ``evaluate(ema.model)`` adds ``val_ema`` rows.
    """
    from tqdm import tqdm

    first, history = 0, []
    if args.resume:
        ckpt = torch.load(out / "ckpt.pt", map_location=rt.device, weights_only=True)
        model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        first, history = ckpt["step"], ckpt["history"]
        if ema is not None:
            if "ema" not in ckpt:
                raise SystemExit(f"--ema: {out / 'ckpt.pt'} was written without an average of the weights")
            ema.load_state_dict(ckpt["ema"])
    net = torch.nn.parallel.DistributedDataParallel(model) if rt.distributed else model
    rng, gen = generators(args.seed, rt.rank, first)

    def checkpoint(step):
        if rt.is_main:
            save_atomic({"state_dict": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                         "history": history, "config": asdict(model.config), "args": vars(args),
                         **({"ema": ema.state_dict()} if ema is not None else {})}, out / "ckpt.pt")

    bar = tqdm(range(first, args.steps), initial=first, total=args.steps, disable=args.no_progress or not rt.is_main)
    tick, seen = time.perf_counter(), 0
    model.train()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup, args.steps)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bool(getattr(args, "amp", False))):
            terms = step_loss(net, rng, gen)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        if ema is not None:
            ema.update(model)
        seen += samples_per_step * rt.world_size

        done = step + 1
        if rt.is_main and (done % args.log_every == 0 or done == args.steps):
            rate = seen / (time.perf_counter() - tick)
            history.append({"step": done, "split": "train", "samples_per_s": rate,
                            **{k: v.item() for k, v in terms.items()}})
            bar.set_postfix(loss=f"{terms['loss'].item():.4g}", samples_s=f"{rate:.1f}")
            tick, seen = time.perf_counter(), 0
        if done % args.eval_every == 0 or done == args.steps:
            if rt.is_main and evaluate is not None:
                model.eval()
                rows = [{"step": done, "split": "val", **evaluate()}]
                if ema is not None:
                    rows.append({"step": done, "split": "val_ema", **evaluate(ema.model)})
                history += rows
                model.train()
                for row in rows:
                    numbers = {k: v for k, v in row.items() if k not in ("step", "split")}
                    bar.write(f"step {done}: {row['split']} " + ", ".join(f"{k} {v:.4g}" for k, v in numbers.items()))
            checkpoint(done)
            if rt.is_main and args.no_progress:
                print(checkpoint_line(done, args.steps, history), flush=True)
            tick, seen = time.perf_counter(), 0
    if first >= args.steps:
        checkpoint(args.steps)
    return history
