"""What both training scripts share: device / DDP setup, seeded generators, learning rate, files, plots.

DDP: launched by ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its own device with its own
random stream (seed, rank, step) and gradients are averaged; a plain ``python`` run is one process.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

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
        for split in ("train", "val"):
            pts = [(h["step"], h[key]) for h in history if h.get("split") == split and key in h]
            if pts:
                ax.plot(*zip(*pts), label=split, marker="." if split == "val" else None)
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
