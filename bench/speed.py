"""Sampling speed of the shipped model on this machine: torch and NumPy paths, 1/4/16/64 grasps,
raw and default (refined, best of ``CANDIDATES``), and the cost of one denoising step against its FLOPs.

    python bench/speed.py [--weights jhod_core/assets/model] [--steps 25] [--threads 2] [--out docs/speed.json]

Latency = wall time of one ``sample_grasps`` call on a loaded model (object encoding, DDIM, MANO
forward, and refinement where on), median of ``--repeats`` runs after one warm-up, on the pybullet
mug (2048 object points). ``raw_candidates`` samples what the default samples (grasps x CANDIDATES)
without refining: default - raw_candidates = the time of refining and choosing, the refinement overhead.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv=None) -> int:
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.model import spec
    from jhod_core.pipeline import CANDIDATES, DEFAULT_DDIM_STEPS, load_backend, set_threads
    from jhod_core.sample import sample_grasps

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ROOT / "jhod_core" / "assets" / "model"))
    p.add_argument("--object", default=str(ROOT / "data" / "objects" / "meshes" / "pb_named_mug.ply"))
    p.add_argument("--steps", type=int, default=DEFAULT_DDIM_STEPS)
    p.add_argument("--counts", default="1,4,16,64")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "docs" / "speed.json"))
    args = p.parse_args(argv)
    set_threads(args.threads)
    mesh = load_mesh(args.object)
    rows = []
    for n in [int(c) for c in args.counts.split(",")]:
        row = {"grasps": n, "steps": args.steps, "candidates": CANDIDATES}
        for tag, count, refine in (("raw", n, False), ("raw_candidates", n * CANDIDATES, False), ("default", n, True)):
            # "default": n grasps, CANDIDATES samples each, refined and chosen
            for backend, repeats in (("torch", args.repeats), ("numpy", max(1, args.repeats - 1))):
                row[f"{backend}_{tag}_s"] = median_time(
                    lambda: sample_grasps(mesh, count, steps=args.steps, device="cpu", weights_dir=args.weights,
                                          refine=refine, candidates=CANDIDATES, backend=backend), repeats)
        for backend in ("torch", "numpy"):
            row[f"{backend}_refine_overhead"] = row[f"{backend}_default_s"] / row[f"{backend}_raw_candidates_s"] - 1
        print(json.dumps(row), flush=True)
        rows.append(row)

    # one denoising step (a forward pass of the denoiser for 16 grasps) against its FLOPs
    denoiser = load_backend(args.weights, "torch", "cpu").denoiser
    numpy_denoiser = load_backend(args.weights, "numpy").denoiser
    x = torch.randn(16, denoiser.hand_dim + spec.OBJECT_DIM)  # 51 or 54 hand numbers (axis-angle or 6D wrist)
    t = torch.full((16,), 500)
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad():
        counter = FlopCounterMode(display=False)
        with counter:
            denoiser(x, t, torch.zeros_like(t))
        flops = counter.get_total_flops()
        step_s = median_time(lambda: denoiser(x, t, torch.zeros_like(t)), 20)
    step_np = median_time(lambda: numpy_denoiser.forward(x.numpy(), t.numpy(), np.zeros(16, int)), 10)
    result = {"machine": f"{platform.processor() or platform.machine()}, torch threads {args.threads}",
              "rows": rows, "step_16_grasps": {"flops": flops, "torch_s": step_s, "numpy_s": step_np,
                                               "torch_gflops_per_s": flops / step_s / 1e9,
                                               "numpy_gflops_per_s": flops / step_np / 1e9},
              "command": "python bench/speed.py " + " ".join(argv or [])}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["step_16_grasps"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
