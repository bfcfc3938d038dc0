"""Why big cans, jars, balls and boxes get so few accepted grasps: what holds an object in the simulation.

    python bench/holding_physics.py [--families can,jar,ball,box_v2] [--widths 5,8,11,14] [--batch 24]
                                    [--out docs/eval/holding_physics.md]

Per family and width bin (the middle of the object's three extents, cm: a can's or a jar's diameter, a box's middle
side; what a hand must span to wrap the object), the first training object of ``data/objects_everyday``; the data
engine's optimiser from scratch (``--batch`` hands started all around, not on hold parts, 200 steps, seed 7).
Every candidate within the penetration limit (0.5 cm) is simulated as the acceptance does
(``metrics.simulation_displacements``, six gravity directions) and three times more, each changing one thing: no
gravity (what the solver's push alone does to the object), friction 10 instead of 3 on both bodies, and the fingers
closed a little further (``adjust_pose(close=0.05)``, a harder squeeze). Reported: how many of the six directions
hold (< 2 cm), the best six-direction mean, how many are accepted (here: within the penetration limit and a
six-direction mean <= 2 cm; the digit and volume tests are left out), and the medians of each variant.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import time
from pathlib import Path

import numpy as np

CORPUS = Path("data/objects_everyday")
HELD_CM = 2.0


@contextlib.contextmanager
def _physics(**constants):
    """Temporarily change the simulation's module constants (gravity, friction): a diagnostic, not the protocol."""
    from jhod_core import metrics

    saved = {k: getattr(metrics, k) for k in constants}
    try:
        for k, v in constants.items():
            setattr(metrics, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(metrics, k, v)


def pick_objects(families: list[str], edges: list[float]) -> list[tuple[str, str, str, float]]:
    """(family, width bin, id, extents cm sorted): the first training object of each family in each width bin."""
    from training.data.corpus import load_manifest

    rows = load_manifest(CORPUS)
    out = []
    for family in families:
        for lo, hi in zip(edges[:-1], edges[1:]):
            for r in rows:
                extents = sorted(100 * float(r[k]) for k in ("extent_x", "extent_y", "extent_z"))
                if r["family"] == family and r["split"] == "train" and lo <= extents[1] < hi:
                    out.append((family, f"{lo:g}-{hi:g}", r["id"], extents))
                    break
    return out


def measure(syn, object_id: str, seed: int = 7) -> dict:
    """``syn``: the data engine's ``GraspSynthesizer`` (its config's batch is the number of hands)."""
    import torch
    import trimesh

    from jhod_core import metrics
    from jhod_core.geometry.inside import signed_distance
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand.adjust import adjust_pose
    from training.synthesize.sdf_grid import SDFGrid

    batch = syn.cfg.batch
    mesh = load_mesh(CORPUS / "meshes" / f"{object_id}.ply")
    result = syn.run(mesh, seed=seed, sdf=SDFGrid(mesh, resolution=64, seed=seed))
    cache = CORPUS.parent / "grasps_everyday" / "vhacd_cache"

    def hands(poses):
        with torch.no_grad():
            out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                           hand_pose=torch.tensor(np.asarray(poses, dtype=np.float32)),
                           transl=torch.tensor(result["transl"]))
        return out.vertices.numpy().astype(np.float64)

    def simulate(verts):
        return metrics.simulation_displacements(mesh, trimesh.Trimesh(verts, syn.hand.faces, process=False),
                                                cache=cache)

    base = hands(result["hand_pose"])
    squeezed = hands([adjust_pose(p, syn.hand.data.rest_joints, close=0.05) for p in result["hand_pose"]])
    rows = []
    for i in range(batch):
        if metrics.depth_cm_from_signed(signed_distance(mesh, base[i])) > 0.5:
            continue
        d = simulate(base[i])
        with _physics(SIM_GRAVITY=1e-6):
            still = float(np.mean(simulate(base[i])))
        with _physics(HAND_FRICTION=10.0, OBJECT_FRICTION=10.0):
            grippy = float(np.mean(simulate(base[i])))
        squeeze_pen = metrics.depth_cm_from_signed(signed_distance(mesh, squeezed[i]))
        rows.append(dict(held=int((d < HELD_CM).sum()), six=float(np.mean(d)), still=still, grippy=grippy,
                         squeeze=float(np.mean(simulate(squeezed[i]))), squeeze_pen=squeeze_pen))
    return {"candidates": batch, "rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default="can,jar,ball,box_v2")
    p.add_argument("--widths", default="5,8,11,14", help="width bin edges (middle extent), cm")
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--out", type=Path, default=Path("docs/eval/holding_physics.md"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig

    syn = GraspSynthesizer(config=SynthesisConfig(batch=args.batch))
    objects = pick_objects(args.families.split(","), [float(x) for x in args.widths.split(",")])
    lines = []
    t0 = time.perf_counter()
    by_width: dict[str, list] = {}
    totals = {"accepted": [], "still": [[], []], "grippy": [], "six": [], "squeeze": [], "squeeze_pen": []}
    for family, width_bin, object_id, extents in objects:
        m = measure(syn, object_id)
        rows = m["rows"]
        name = f"{object_id} ({' x '.join(f'{e:.1f}' for e in extents)})"
        if not rows:
            lines.append(f"| {family} | {width_bin} | {name} | {m['candidates']} | 0 | - | - | - |"
                         " - | - | - | - |")
            continue
        held = np.bincount([r["held"] for r in rows], minlength=7)
        accepted = [r for r in rows if r["six"] <= HELD_CM]
        rejected = [r for r in rows if r["six"] > HELD_CM]
        med = lambda key, rs: f"{np.median([r[key] for r in rs]):.2f}" if rs else "-"  # noqa: E731
        lines.append(
            f"| {family} | {width_bin} | {name} | {m['candidates']} | {len(rows)} | "
            f"{' '.join(str(int(h)) for h in held)} | {min(r['six'] for r in rows):.2f} | {len(accepted)} | "
            f"{med('still', accepted)} / {med('still', rejected)} | {med('six', rows)} | {med('grippy', rows)} | "
            f"{med('squeeze', rows)} ({med('squeeze_pen', rows)} cm) |")
        totals["accepted"].append(len(accepted) / m["candidates"])
        by_width.setdefault(width_bin, []).append((max(r["held"] for r in rows), len(accepted) / m["candidates"]))
        totals["still"][0] += [r["still"] for r in accepted]
        totals["still"][1] += [r["still"] for r in rejected]
        for key in ("six", "grippy", "squeeze", "squeeze_pen"):
            totals[key] += [r[key] for r in rows]
        print(lines[-1], file=sys.stderr, flush=True)
    minutes = (time.perf_counter() - t0) / 60
    text = [
        "# What holds an object in the simulation: enclosure, not squeeze", "",
        f"`python {' '.join(['bench/holding_physics.py', *(argv if argv is not None else sys.argv[1:])])}` on "
        f"{datetime.date.today()} ({minutes:.0f} min). {__doc__.split(chr(10) + chr(10))[2].strip()}", "",
        "| family | width (cm) | object (extents, cm) | hands | within 0.5 cm | directions held 0..6 (count) | "
        "best 6-dir (cm) | accepted | no gravity: accepted / rejected (cm) | 6-dir median | friction 10 | "
        "closed 5 % more (penetration) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *lines, "",
        "## Over all objects", "",
        f"- Accepted share of the hands: {np.mean(totals['accepted']):.0%}.",
        f"- Without gravity the object still moves (the solver pushing it out of the hand's penetration): median "
        f"{np.median(totals['still'][0]):.2f} cm under accepted grasps, {np.median(totals['still'][1]):.2f} cm "
        "under rejected ones.",
        f"- Friction 10 instead of 3: six-direction median {np.median(totals['grippy']):.2f} cm against "
        f"{np.median(totals['six']):.2f} cm.",
        f"- Fingers closed 5 % further: six-direction median {np.median(totals['squeeze']):.2f} cm at penetration "
        f"{np.median(totals['squeeze_pen']):.2f} cm.",
        *(f"- {b} cm: the best hand of each object holds in {', '.join(str(h) for h, _ in v)} of the six "
          f"directions; accepted share {np.mean([a for _, a in v]):.0%}." for b, v in by_width.items()),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
