"""Pinches in the data engine: thumb-and-index grasps, started as pinches, checked with the data engine's acceptance.

    python bench/pinch_synthesis.py [--objects 12] [--max-size 0.10] [--out docs/eval/pinch_synthesis.md]

On ``--objects`` validation objects of ``data/objects_everyday`` no longer than ``--max-size`` (m; a seeded pick),
one round of 16 hands from scratch, all started as pinches (``SynthesisConfig.type_probabilities``), 200 steps,
each candidate checked by ``accept.check_grasp``. Reported: accepted, how many of them touch with thumb and index
alone (a pinch by the contact classifier), and why the rest were refused; a picture of accepted pinches.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

CORPUS = Path("data/objects_everyday")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--max-size", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/eval/pinch_synthesis.md"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand.regions import finger_vertex_ids
    from jhod_core.viz import look_rotation, render_sheet
    from training.data.corpus import load_manifest
    from training.synthesize.accept import check_grasp
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig

    rows = [r for r in load_manifest(CORPUS) if r["split"] == "val"
            and max(float(r[k]) for k in ("extent_x", "extent_y", "extent_z")) <= args.max_size]
    rng = np.random.default_rng(args.seed)
    picked = [rows[i] for i in sorted(rng.choice(len(rows), min(args.objects, len(rows)), replace=False))]
    syn = GraspSynthesizer(config=SynthesisConfig(batch=16, steps=200, type_probabilities=(0.0, 0.0, 1.0)))
    fingers = finger_vertex_ids(syn.hand.data)
    lines, panels, totals = [], [], {"tried": 0, "accepted": 0, "pinch": 0}
    start, cpu = time.perf_counter(), time.process_time()
    for row in picked:
        mesh = load_mesh(CORPUS / "meshes" / f"{row['id']}.ply")
        result = syn.run(mesh, seed=args.seed + 1)
        with torch.no_grad():
            out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                           hand_pose=torch.tensor(result["hand_pose"]), transl=torch.tensor(result["transl"]))
        reasons, accepted, pinches, sims = {}, 0, 0, []
        for i in range(len(result["kind"])):
            verts = out.vertices[i].numpy().astype(np.float64)
            m, reason = check_grasp(mesh, verts, syn.hand.faces, result["hand_pose"][i], syn.frames, fingers)
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
                continue
            accepted += 1
            sims.append(m["sim_displacement_6dir_cm"])
            if set(m["digits_in_contact"]) == {"thumb", "index"}:
                pinches += 1
                if sum(p[2].startswith(row["id"]) for p in panels) < 2 and len(panels) < 16:
                    meshes = [(mesh.vertices, mesh.faces, (0.75, 0.75, 0.8)), (verts, syn.hand.faces, (0.95, 0.7, 0.5))]
                    panels.append((meshes, look_rotation(20, 40 + 90 * len(panels)),
                                   f"{row['id']} ({m['sim_displacement_6dir_cm']:.1f} cm)"))
        totals["tried"] += len(result["kind"])
        totals["accepted"] += accepted
        totals["pinch"] += pinches
        size = max(float(row[k]) for k in ("extent_x", "extent_y", "extent_z")) * 100
        refused = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
        lines.append(f"| {row['id']} | {row['family']} | {size:.1f} | {accepted} | {pinches} | "
                     f"{np.mean(sims) if sims else float('nan'):.2f} | {refused} |")
        print(lines[-1], flush=True)
    sheet = args.out.with_suffix(".png")
    if panels:
        render_sheet(panels, sheet, cols=4, title="accepted pinches (six-direction displacement)")
    command = "python bench/pinch_synthesis.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = ["# Pinches in the data engine\n",
            f"`{command}` ({datetime.date.today()}, {time.perf_counter() - start:.0f} s wall, "
            f"{(time.process_time() - cpu) / 60:.1f} CPU min). " + __doc__.split("\n\n")[2].replace("\n", " ") + "\n",
            f"**{totals['accepted']} of {totals['tried']} accepted, {totals['pinch']} of them pinches "
            f"(thumb and index alone)**, on {len(picked)} objects.\n",
            "| object | family | size (cm) | accepted | pinches | six-direction (cm, mean) | refused |",
            "|---|---|---|---|---|---|---|", *lines, ""]
    if panels:
        text.append(f"![accepted pinches]({sheet.name})\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
