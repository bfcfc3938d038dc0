"""Accepted grasps per CPU-minute of the data engine's modes (scratch / bootstrap / mix) on the same objects.

    python bench/synthesis_throughput.py --out docs/synthesis_throughput.md [--per-family 1] [--per-object 8]
        [--weights DIR]   # the model that proposes in bootstrap and mix modes (default: the shipped one)

The objects: the first ``--per-family`` validation objects of each family of ``data/objects_everyday`` (never
grasped by the running synthesis, never trained on). Each mode runs the data engine's own worker
(``training.synthesize.worker.synthesize_objects``) with its defaults (batch 16, up to 3 rounds, 200 steps from
scratch, ``POLISH_STEPS`` on a model proposal) and the same acceptance. Throughput is process CPU time (robust to
other jobs on the machine; one torch thread); the shipped model is loaded before the clock starts (a worker loads
it once). Diversity: per object, the mean distance (cm) between the wrists of its accepted grasps and between their
21 keypoints; pooled, the k-means-20 entropy of all accepted grasps of the mode (``jhod_core.metrics.diversity``).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

from jhod_core import metrics
from training.data.corpus import load_manifest
from training.synthesize.worker import MODES, _model_proposals, synthesize_objects

CORPUS = Path("data/objects_everyday")


def pick_objects(per_family: int, split: str = "val") -> list[tuple[str, str]]:
    chosen, count = [], {}
    for row in load_manifest(CORPUS):
        if row["split"] == split and count.get(row["family"], 0) < per_family:
            count[row["family"]] = count.get(row["family"], 0) + 1
            chosen.append((row["id"], str(CORPUS / "meshes" / f"{row['id']}.ply")))
    return chosen


def pairwise_cm(x: np.ndarray) -> float:
    """Mean distance (cm) between the rows of x (n, d) flattened points (metres); nan below two rows."""
    if len(x) < 2:
        return float("nan")
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return float(d[np.triu_indices(len(x), 1)].mean() * 100)


def run_mode(mode: str, objects, per_object: int, cache: str, weights=None) -> dict:
    t = time.process_time()
    shard = synthesize_objects({"objects": objects, "seed": 0, "per_object": per_object, "rounds": 3, "batch": 16,
                                "steps": 200, "mode": mode, "weights": weights, "vhacd_cache": cache})
    cpu = time.process_time() - t
    records = shard["records"]
    wrist, spread = [], []
    for object_id, _ in objects:
        mine = [r for r in records if r["object_id"] == object_id]
        if not mine:
            continue
        keypoints = np.array([r["keypoints"] for r in mine]).reshape(len(mine), -1)
        wrist.append(pairwise_cm(np.array([r["keypoints"][0] for r in mine])))
        spread.append(pairwise_cm(keypoints / np.sqrt(21)))  # per-keypoint RMS distance
    entropy = metrics.diversity(np.array([r["keypoints"] for r in records]))[0] if len(records) >= 20 else None
    tried = sum(s["tried"] for s in shard["stats"])
    return {"mode": mode, "accepted": len(records), "tried": tried, "cpu": cpu,
            "from_model": sum(r["source"] == "model" for r in records),
            "full": sum(s["accepted"] >= per_object for s in shard["stats"]), "wrist_cm": np.nanmean(wrist),
            "keypoints_cm": np.nanmean(spread), "entropy": entropy,
            "hold": [r["on_hold_part"] for r in records if r["on_hold_part"] >= 0],
            "timing": {k: sum(s["timing"].get(k, 0.0) for s in shard["stats"]) for k in shard["stats"][0]["timing"]}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=1)
    parser.add_argument("--per-object", type=int, default=8)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--weights", default=None, help="model folder proposing in bootstrap / mix (default: shipped)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    objects = pick_objects(args.per_family)
    cache = "data/grasps_everyday/vhacd_cache"
    import trimesh

    _model_proposals(trimesh.creation.box((0.05, 0.05, 0.05)), 1, 0, 0, args.weights)  # loaded outside the clock
    rows = []
    for mode in args.modes:
        rows.append(run_mode(mode, objects, args.per_object, cache, args.weights))
        r = rows[-1]
        print(f"{mode}: {r['accepted']} accepted in {r['cpu']:.0f} CPU s", file=sys.stderr, flush=True)
    base = next((r for r in rows if r["mode"] == "scratch"), rows[0])
    lines = [
        "# Synthesis throughput by mode", "",
        f"`python bench/synthesis_throughput.py --per-family {args.per_family} --per-object {args.per_object}"
        f"{' --weights ' + args.weights if args.weights else ''}{' --out ' + str(args.out) if args.out else ''}` on {datetime.date.today()}: {len(objects)} validation "
        f"objects of `{CORPUS}` ({args.per_family} per family), {args.per_object} accepted grasps wanted per "
        "object, up to 3 rounds of 16 candidates, the data engine's acceptance; process CPU time, one thread.", "",
        "| mode | accepted | from the model | objects with all wanted | candidates | CPU min | accepted per CPU-min "
        "| vs scratch | wrist spread per object (cm) | keypoint spread per object (cm) | k-means entropy (pooled) "
        "| on hold part |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = r["accepted"] / (r["cpu"] / 60)
        ratio = rate / (base["accepted"] / (base["cpu"] / 60))
        entropy = "-" if r["entropy"] is None else f"{r['entropy']:.2f}"
        hold = f"{np.mean(r['hold']) * 100:.0f}%" if r["hold"] else "-"
        lines.append(f"| {r['mode']} | {r['accepted']} | {r['from_model']} | {r['full']}/{len(objects)} | {r['tried']} "
                     f"| {r['cpu'] / 60:.1f} | {rate:.1f} | {ratio:.2f}x | {r['wrist_cm']:.1f} | {r['keypoints_cm']:.1f} "
                     f"| {entropy} | {hold} |")
    lines += ["", "Where the time goes (wall seconds measured inside the worker, summed over objects):", "",
              "| mode | " + " | ".join(rows[0]["timing"]) + " |", "|---" * (len(rows[0]["timing"]) + 1) + "|"]
    lines += [f"| {r['mode']} | " + " | ".join(f"{v:.0f}" for v in r["timing"].values()) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
