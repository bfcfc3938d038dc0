"""Simulation displacement by object size: where one hand cannot hold the protocol's 1 kg object.

    python -m training.eval.by_size docs/eval/jhod_default [--objects data/objects]

Groups an evaluation's grasps (``rows.jsonl``) by the largest bounding-box extent of their corpus object
(``SIZE_BINS_CM``) and reports per (method, split, size): grasps, objects, the -y displacement as mean +- standard
error over objects, the share of dropped grasps (-y over ``DROP_CM``) and the six-direction displacement. Rows of
objects that are not in the corpus (``jhod_joint``'s generated objects) are left out. Prints the table and writes
it to ``by_size.md`` in the run folder; ``python -m training.eval`` adds the same table to its report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.eval.tune_selection import DROP_CM, dropped
from training.eval.uncertainty import mean_and_error

SIZE_BINS_CM = (10.0, 15.0)  # largest extent: < 10 cm (mugs, bottles), 10-15 cm, >= 15 cm (boxes a hand spans)


def size_label(extent_cm: float) -> str:
    edges = (0.0, *SIZE_BINS_CM, np.inf)
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo <= extent_cm < hi:
            return f"< {hi:g} cm" if lo == 0 else (f">= {lo:g} cm" if hi == np.inf else f"{lo:g}-{hi:g} cm")
    raise ValueError(f"object extent must be a finite size in cm, got {extent_cm}")


def size_table(rows: list[dict], extents_cm: dict[str, float]) -> str:
    """Markdown table of ``rows`` grouped by (method, split, size label of ``extents_cm[object_id]``)."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["object_id"] in extents_cm and r.get("sim_displacement_cm") is not None:
            groups[(r["method"], r["split"], size_label(extents_cm[r["object_id"]]))][r["object_id"]].append(r)
    order = [size_label(e) for e in (0.0, *SIZE_BINS_CM)]
    lines = ["| method | split | largest extent | grasps | objects | sim. -y (cm) | dropped | sim. 6-dir (cm) |",
             "|---|---|---|---|---|---|---|---|"]
    for method, split, size in sorted(groups, key=lambda g: (g[0], g[1], order.index(g[2]))):
        objects = groups[(method, split, size)]
        grasps = [r for rs in objects.values() for r in rs]
        mean, error = mean_and_error(np.mean([r["sim_displacement_cm"] for r in rs]) for rs in objects.values())
        six = np.mean([r["sim_displacement_6dir_cm"] for r in grasps])
        lines.append(f"| {method} | {split} | {size} | {len(grasps)} | {len(objects)} | "
                     f"{mean:.2f} +- {error:.2f} | {dropped(grasps).mean():.0%} | {six:.2f} |")
    return "\n".join(lines) + "\n"


def object_extents_cm(objects: str | Path, rows: list[dict]) -> dict[str, float]:
    """{object_id: largest bounding-box extent in cm} for the rows' objects that are in the corpus."""
    from training.data.corpus import SPLITS, load_manifest, load_object_mesh

    corpus = {row["id"] for row in load_manifest(objects) if row["split"] in SPLITS}
    return {oid: float(max(load_object_mesh(objects, oid).extents)) * 100.0
            for oid in sorted({r["object_id"] for r in rows} & corpus)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an evaluation output folder (with rows.jsonl)")
    p.add_argument("--objects", default="data/objects", help="the object corpus the run was evaluated on")
    args = p.parse_args(argv)
    rows = [json.loads(line) for line in open(args.run / "rows.jsonl")]
    extents = object_extents_cm(args.objects, rows)
    text = (f"# Simulation displacement by object size\n\n`python -m training.eval.by_size {args.run}` "
            f"(objects: `{args.objects}`). Largest extent of the object's bounding box; -y as mean +- standard "
            f"error over objects; dropped: -y displacement over {DROP_CM:g} cm (a free object falls 10.7 cm).\n\n"
            + size_table(rows, extents))
    (args.run / "by_size.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
