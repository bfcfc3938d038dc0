"""Which stage of sampling moves hands off the part people hold: raw samples, refined, refined and chosen.

    python bench/hold_part_stages.py [--weights DIR] [--objects 16] [--num 8] [--out docs/eval/hold_part_stages.md]

The first ``--objects`` test objects of ``data/objects_everyday`` with a part to prefer (``training.eval
--with-hold-part``'s pick, seed 0); ``--num`` grasps each, seed 0, three ways through ``sample_grasps``: raw
(``refine=False``), refined without a choice (``candidates=1``) and the default (refined, the best of the default
candidates kept: by the model's critic where it has one). Per family: share of grasps whose contact centroid lies on
the part to prefer (``accept.contact_on_hold_part``). No simulation: where the hands are, not whether they hold.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.pipeline import CANDIDATES  # noqa: E402
from jhod_core.sample import sample_grasps  # noqa: E402
from training.data.corpus import load_hold_faces, load_object_mesh  # noqa: E402
from training.eval.methods import pick_objects  # noqa: E402
from training.synthesize.accept import contact_on_hold_part, part_to_prefer  # noqa: E402

CORPUS = "data/objects_everyday"
STAGES = {"raw": {"refine": False}, "refined, no choice": {"candidates": 1}, "refined and chosen (default)": {}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--objects", type=int, default=16)
    p.add_argument("--num", type=int, default=8)
    p.add_argument("--out", default="docs/eval/hold_part_stages.md")
    args = p.parse_args(argv)
    start = time.perf_counter()
    data = load_hand_data()
    held = collections.defaultdict(list)
    objects = pick_objects(CORPUS, ["test"], args.objects, 0, with_hold_part=True)
    for k, (oid, _) in enumerate(objects):
        print(f"[{k + 1}/{len(objects)}] {oid}", flush=True)
        mesh = load_object_mesh(CORPUS, oid)
        hold = part_to_prefer(load_hold_faces(CORPUS, oid))
        family = oid[3:].rsplit("_", 1)[0]
        for stage, options in STAGES.items():
            g = sample_grasps(mesh, args.num, seed=0, weights_dir=args.weights, **options)
            verts, _, _ = numpy_forward(data, g["global_orient"], g["hand_pose"], g["transl"])
            on = [contact_on_hold_part(mesh, v.astype(np.float64), hold) for v in verts]
            held[(stage, family)] += on
            held[(stage, "**all**")] += on
    families = sorted({f for _, f in held if f != "**all**"}) + ["**all**"]
    lines = ["# Which stage moves hands off the part people hold", "",
             f"`python bench/hold_part_stages.py{' --weights ' + args.weights if args.weights else ''} --objects "
             f"{args.objects} --num {args.num}` ({time.strftime('%Y-%m-%d')}, {time.perf_counter() - start:.0f} s; "
             f"default candidates: {CANDIDATES}).", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
             "| family | grasps | " + " | ".join(STAGES) + " |", "|---|---|" + "---|" * len(STAGES)]
    for f in families:
        n = len(held[("raw", f)])
        lines.append(f"| {f} | {n} | " + " | ".join(f"{np.mean(held[(s, f)]):.0%}" for s in STAGES) + " |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
