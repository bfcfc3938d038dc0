"""Where synthesis holds everyday objects: share of accepted grasps whose contact centroid lies on a part people
hold, with part-aware synthesis (hands start on hold parts and are pulled there) against plain synthesis.

    python bench/hold_parts.py --per-family 2 --out docs/eval/hold_parts.md

Runs the data engine's worker (same acceptance: penetration, volume, digits, six-direction simulation, limits) on
the first ``--per-family`` training objects of each family in ``--families`` of the everyday corpus, 8 accepted
grasps wanted per object, seed 0, once per mode. Writes a markdown report with the command.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data.corpus import load_manifest  # noqa: E402
from training.synthesize import optimizer, worker  # noqa: E402

MODES = {"part-aware": (optimizer.HOLD_START_SHARE, optimizer.SynthesisConfig.w_hold), "plain": (0.0, 0.0)}


def run_mode(mode: str, objects: list[tuple[str, str]], args) -> tuple[dict, float]:
    optimizer.HOLD_START_SHARE, optimizer.SynthesisConfig.w_hold = MODES[mode]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "shard.npz")
        worker.synthesize_shard({"objects": objects, "batch": 16, "steps": 200, "rounds": 3, "per_object": 8,
                                 "seed": 0, "path": path, "vhacd_cache": args.vhacd_cache})
        with np.load(path, allow_pickle=False) as z:
            ids, on_hold = z["object_id"], z["on_hold_part"]
    per_family = {}
    for family in args.families.split(","):
        sel = np.array([str(i).startswith(f"ev_{family}_") for i in ids], dtype=bool)
        per_family[family] = (int(sel.sum()), float(on_hold[sel].mean()) if sel.any() else float("nan"))
    return per_family, (time.perf_counter() - start) / 60


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", default="data/objects_everyday")
    p.add_argument("--families", default="kitchen_knife,hammer,screwdriver,frying_pan,saucepan,mug_v2,bottle_v2")
    p.add_argument("--per-family", type=int, default=2)
    p.add_argument("--vhacd-cache", default="data/grasps/vhacd_cache")
    p.add_argument("--out", default="docs/eval/hold_parts.md")
    args = p.parse_args(argv)
    rows = [r for r in load_manifest(args.objects) if r["split"] == "train"]
    objects = []
    for family in args.families.split(","):
        objects += [(r["id"], str(Path(args.objects) / "meshes" / f"{r['id']}.ply"))
                    for r in rows if r["family"] == family][:args.per_family]
    results = {mode: run_mode(mode, objects, args) for mode in MODES}
    lines = ["# Where synthesis holds everyday objects", "",
             f"`python bench/hold_parts.py {' '.join(sys.argv[1:])}`: the first {args.per_family} training objects "
             f"of each family of `{args.objects}`, 8 accepted grasps wanted per object (3 rounds of 16), seed 0, "
             "the data engine's acceptance. `on hold part`: share of accepted grasps whose contact centroid lies on "
             "a part people hold (handles, grips, bodies; not blades, pans, tool heads, caps).", "",
             "| family | " + " | ".join(f"{m}: accepted | {m}: on hold part" for m in MODES) + " |",
             "|---|" + "---|---|" * len(MODES)]
    for family in args.families.split(","):
        cells = []
        for mode in MODES:
            count, share = results[mode][0][family]
            cells += [str(count), "-" if count == 0 else f"{share:.0%}"]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    minutes = ", ".join(f"{m} {results[m][1]:.1f}" for m in MODES)
    lines += ["", f"Minutes: {minutes} (one process, shared machine)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
