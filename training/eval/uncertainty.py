"""How sure an evaluation's means are: mean +- standard error over objects, per (method, split).

    python -m training.eval.uncertainty docs/eval/jhod_default [--paired-with OTHER_RUN]

Grasps of one object are not independent (one object is easy, the next hard), so the standard error is taken
over per-object means: std / sqrt(objects). ``--paired-with`` compares two runs on their shared (method, split,
object) means: mean difference (this - other) +- its standard error, the sharper test when both runs used the
same objects (``jhod_joint``'s generated objects are named by index: across runs that sampled differently the
same name is a different object). Reads ``rows.jsonl`` only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.eval.methods import METRIC_KEYS


def object_means(run: Path) -> dict:
    """{(method, split, key): {object_id: mean over its grasps}}."""
    values = defaultdict(lambda: defaultdict(list))
    for line in open(run / "rows.jsonl"):
        row = json.loads(line)
        for key in METRIC_KEYS:
            if row.get(key) is not None:
                values[(row["method"], row["split"], key)][row["object_id"]].append(row[key])
    return {group: {oid: float(np.mean(v)) for oid, v in objects.items()} for group, objects in values.items()}


def mean_and_error(values) -> tuple[float, float]:
    values = np.asarray(list(values), dtype=np.float64)
    error = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(error)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an evaluation output folder (with rows.jsonl)")
    p.add_argument("--paired-with", type=Path, default=None, metavar="OTHER_RUN")
    args = p.parse_args(argv)
    means = object_means(args.run)
    other = object_means(args.paired_with) if args.paired_with else None
    print("| method | split | metric | objects | mean +- s.e. |" + (" paired with other run: diff +- s.e. |"
                                                                    if other else ""))
    print("|---|---|---|---|---|" + ("---|" if other else ""))
    for (method, split, key), objects in sorted(means.items()):
        mean, error = mean_and_error(objects.values())
        line = f"| {method} | {split} | {key} | {len(objects)} | {mean:.3f} +- {error:.3f} |"
        if other is not None:
            shared = sorted(set(objects) & set(other.get((method, split, key), {})))
            if shared:
                diff, diff_error = mean_and_error(objects[o] - other[(method, split, key)][o] for o in shared)
                line += f" {diff:+.3f} +- {diff_error:.3f} ({len(shared)} objects) |"
            else:
                line += " - |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
