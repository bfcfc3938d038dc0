"""Synthesis on large objects (longest side >= 15 cm): hands started at sharp edges and rims, against none.

    python bench/large_objects.py [--objects 8] [--out docs/eval/large_objects.md]

The first ``--objects`` validation objects of ``data/objects_everyday`` at least 15 cm long (families in corpus
order), the data engine's worker from scratch (batch 16, up to 3 rounds, 200 steps, 8 wanted), once with
``EDGE_START_SHARE`` = 0.5 (the default) and once with 0; process CPU time.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from training.data.corpus import load_manifest
from training.synthesize import optimizer
from training.synthesize.worker import synthesize_objects

CORPUS = Path("data/objects_everyday")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = [r for r in load_manifest(CORPUS) if r["split"] == "val"
            and max(float(r[f"extent_{a}"]) for a in "xyz") >= optimizer.LARGE_OBJECT]
    seen, chosen = set(), []
    for r in rows:  # one per family first, then the rest
        if r["family"] not in seen:
            seen.add(r["family"])
            chosen.append(r)
    objects = [(r["id"], str(CORPUS / "meshes" / f"{r['id']}.ply")) for r in chosen[:args.objects]]
    results = {}
    for share in (optimizer.EDGE_START_SHARE, 0.0):
        optimizer.EDGE_START_SHARE = share
        t = time.process_time()
        shard = synthesize_objects({"objects": objects, "seed": 0, "per_object": 8, "rounds": 3, "batch": 16,
                                    "steps": 200, "vhacd_cache": "data/grasps_everyday/vhacd_cache"})
        cpu = time.process_time() - t
        checked = sum(s["accepted"] + sum(s["rejected"].values()) for s in shard["stats"])
        results[share] = (len(shard["records"]), checked, cpu, sum(s["accepted"] >= 8 for s in shard["stats"]),
                          {s["object_id"]: s["accepted"] for s in shard["stats"]})
        print(share, results[share], file=sys.stderr, flush=True)
    lines = ["# Large objects: starting hands at edges and rims", "",
             f"`python bench/large_objects.py --objects {args.objects}` on {datetime.date.today()}. " +
             __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| edge starts | accepted | accepted / checked | objects with 8 | CPU min | accepted per CPU-min |",
             "|---|---|---|---|---|---|"]
    for share, (acc, checked, cpu, full, _) in results.items():
        lines.append(f"| {share:.0%} of hands | {acc} | {acc / max(1, checked):.0%} | {full}/{len(objects)} | "
                     f"{cpu / 60:.1f} | {acc / (cpu / 60):.1f} |")
    lines += ["", "Per object (accepted with / without edge starts): " + ", ".join(
        f"{oid} {results[list(results)[0]][4][oid]}/"
        f"{results[list(results)[1]][4][oid]}" for oid, _ in objects) + "."]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
