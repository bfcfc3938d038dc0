"""Ablation table (paper Tables 2 and 4) from finished ``python -m training.eval`` runs.

    python -m training.eval.ablations --run "full=docs/eval/ablations/full" \
        --run "no object-only data=docs/eval/ablations/no_object_only" \
        --run "synchronous t_H = t_O=docs/eval/ablations/sync_timesteps" --out docs/eval/ablations/report.md

Each run folder holds the ``summary.json`` of an evaluation of one model; a run may name the training
folder of its model (``--train NAME=DIR``) to add the final training losses. The table has one row per
(run, method, split): the same metrics as the main report, nothing recomputed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = [("penetration_depth_cm", "pen. cm", 2), ("intersection_volume_cm3", "vol. cm3", 2),
           ("sim_displacement_cm", "sim -y cm", 2), ("sim_displacement_6dir_cm", "sim 6-dir cm", 2),
           ("contact_ratio", "contact", 3), ("diversity_entropy", "entropy", 2),
           ("diversity_cluster_cm", "cluster cm", 2)]


def _pairs(values: list[str]) -> list[tuple[str, Path]]:
    out = []
    for value in values:
        name, sep, path = value.rpartition("=")
        if not sep or not name:
            raise SystemExit(f"error: expected NAME=DIR, got {value!r}")
        out.append((name, Path(path)))
    return out


def table(runs: list[tuple[str, Path]], trains: dict[str, Path]) -> str:
    lines = ["| model | method | split | grasps | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|---|---|---|" + "---|" * len(COLUMNS)]
    commands, entries = [], []
    for order, (name, folder) in enumerate(runs):
        summary = json.loads((folder / "summary.json").read_text())
        commands.append(f"- {name}: `python -m training.eval {summary['command'].split('__main__.py', 1)[-1].strip()}`")
        entries += [(row["method"], row["split"], order, name, row) for row in summary["table"]]
    for method, split, _, name, row in sorted(entries, key=lambda e: e[:3]):  # models side by side per (method, split)
        cells = [f"{row[key]:.{digits}f}" if key in row else "–" for key, _, digits in COLUMNS]
        lines.append(f"| {name} | {method} | {split} | {row['grasps']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n\nEvaluation commands:\n\n" + "\n".join(commands) + "\n"
    if trains:
        text += ("\nFinal training losses (last logged batch, same steps). The terms differ between variants (without "
                 "object-only data there is no object-only term; with synchronous timesteps no conditional rows), so "
                 "the totals are not comparable across rows; the per-term values are.\n\n")
        text += "| model | step | loss | cond | uncond | object |\n|---|---|---|---|---|---|\n"
        for name, folder in trains.items():
            final = json.loads((folder / "summary.json").read_text())["final"][-1]
            text += (f"| {name} | {final['step']} | {final['loss']:.3f} | {final['cond']:.3f} | "
                     f"{final['uncond']:.3f} | {final['object']:.3f} |\n")
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, help="NAME=EVAL_DIR (repeat)")
    p.add_argument("--train", action="append", default=[], help="NAME=TRAIN_DIR with summary.json (repeat)")
    p.add_argument("--out", required=True, help="markdown file with the table")
    args = p.parse_args(argv)
    text = table(_pairs(args.run), dict(_pairs(args.train)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
