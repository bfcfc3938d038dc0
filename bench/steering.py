"""How well steering meets its wishes, and what it costs: the shipped model, choosing among samples.

    python bench/steering.py [--objects 12] [--num 4] [--weights DIR] [--pool K] [--guidance W]
        [--out docs/eval/steering.md]

Objects: the first validation object of each everyday family (``data/objects_everyday``). Per object, seeded: a
target point on the surface, an approach direction (a random direction from the object's centre), and each grasp
type in turn. For each wish alone, ``num`` grasps are sampled with it (``jhod_core.steering``, the pipeline's
default settings) and without it (the plain first ``num`` grasps of the same seed); reported: median distance from
the hands' contact centroid to the target, median angle between palm and approach, share of grasps of the asked
type, the quality of the chosen grasps (penetration, 6-direction simulation) and seconds per grasp. A model trained
with controls is also told the wish (``--guidance``) and chooses among ``--pool`` x as many samples (default: the
pipeline's, 6 without controls, 2 with them).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--num", type=int, default=4)
    parser.add_argument("--sim", action="store_true", help="also the 6-direction simulation (slow)")
    parser.add_argument("--weights", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--pool", type=int, default=None, help="samples per grasp kept (default: the pipeline's)")
    parser.add_argument("--guidance", type=float, default=None, help="classifier-free guidance weight")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from jhod_core import metrics
    from jhod_core.geometry.sampling import sample_triangles
    from jhod_core.hand import load_hand_data
    from jhod_core.pipeline import GUIDANCE, collect, iter_grasps, load_backend, set_threads
    from jhod_core.refine import ObjectSurface
    from jhod_core.steering import GRASP_TYPES, Steering, steering_costs
    from training.data.corpus import load_manifest, load_object_mesh

    set_threads(1)
    corpus = ROOT / "data" / "objects_everyday"
    rows, seen = [], set()
    for row in load_manifest(corpus):
        if row["split"] == "val" and row["family"] not in seen:
            seen.add(row["family"])
            rows.append(row)
    rows = rows[:args.objects]
    model = load_backend(args.weights, "auto")
    guidance = GUIDANCE if args.guidance is None else args.guidance
    hand = load_hand_data()
    rng = np.random.default_rng(0)
    results = {kind: {"plain": [], "steered": [], "seconds": [], "plain_seconds": [], "pen": [], "sim": []}
               for kind in ("near", "approach", "type")}
    by_type = {(t, name): [] for t in GRASP_TYPES for name in ("plain", "steered")}
    quality = {(t, m): [] for t in ("plain", *GRASP_TYPES) for m in ("pen", "sim")}
    for n, row in enumerate(rows):
        mesh = load_object_mesh(corpus, row["id"])
        surface = ObjectSurface.from_mesh(mesh)
        target = sample_triangles(mesh.vertices, mesh.faces, 1, seed=n)[0][0]  # seeded: same targets every run
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        rng.choice(GRASP_TYPES)  # once one type per object was drawn here: the draws after it stay the same
        wishes = {"near": [Steering(near=tuple(target))], "approach": [Steering(approach=tuple(-direction))],
                  "type": [Steering(grasp_type=t) for t in GRASP_TYPES]}
        t = time.perf_counter()
        plain = collect(iter_grasps(model, mesh, args.num, seed=n))
        plain_seconds = (time.perf_counter() - t) / args.num
        for verts in plain["vertices"]:  # the same measures of the plain grasps: what steering costs in quality
            r = metrics.evaluate_grasp(mesh, verts, plain["faces"], sim=args.sim)
            quality[("plain", "pen")].append(r["penetration_depth_cm"])
            quality[("plain", "sim")].append(r.get("sim_displacement_6dir_cm", np.nan))
        for kind, asked in wishes.items():
            for wish in asked:
                t = time.perf_counter()
                steered = collect(iter_grasps(model, mesh, args.num, seed=n, steering=wish, pool=args.pool,
                                              guidance=guidance))
                results[kind]["seconds"].append((time.perf_counter() - t) / args.num)
                results[kind]["plain_seconds"].append(plain_seconds)
                for name, grasps in (("plain", plain), ("steered", steered)):
                    m = steering_costs(grasps, surface, wish, hand)
                    value = {"near": m.get("near_m"), "approach": m.get("angle_deg"),
                             "type": None if "type" not in m else (m["type"] == wish.grasp_type)}[kind]
                    results[kind][name] += list(np.asarray(value, dtype=np.float64))
                    if kind == "type":
                        by_type[(wish.grasp_type, name)] += list(np.asarray(value, dtype=np.float64))
                for verts in steered["vertices"]:
                    r = metrics.evaluate_grasp(mesh, verts, steered["faces"], sim=args.sim)
                    results[kind]["pen"].append(r["penetration_depth_cm"])
                    if args.sim:
                        results[kind]["sim"].append(r["sim_displacement_6dir_cm"])
                    if kind == "type":
                        quality[(wish.grasp_type, "pen")].append(r["penetration_depth_cm"])
                        quality[(wish.grasp_type, "sim")].append(r.get("sim_displacement_6dir_cm", np.nan))
        print(f"[{n + 1}/{len(rows)}] {row['id']}", file=sys.stderr, flush=True)
    how = "told the wishes and choosing among samples" if model.controls else "choosing among samples"
    options = "".join(f" --{k} {v}" for k, v in (("weights", args.weights), ("pool", args.pool),
                                                  ("guidance", args.guidance)) if v is not None)
    lines = [f"# Steering: {'the shipped model' if args.weights is None else args.weights}, {how}", "",
             f"`python bench/steering.py --objects {args.objects} --num {args.num}"
             f"{' --sim' if args.sim else ''}{options}` on {datetime.date.today()}. "
             + __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| wish | measure | without steering | with steering | goal (model v2) | steered penetration, cm "
             + ("| steered 6-dir simulation, cm " if args.sim else "") + "| s per grasp (plain / steered) |",
             "|---|---|---|---|---|---|" + ("---|" if args.sim else "") + "---|"]
    labels = {"near": ("median contact-centroid distance to the target, cm", 100.0, "<= 2 cm"),
              "approach": ("median palm-to-approach angle, deg", 1.0, "<= 30 deg"),
              "type": ("grasps of the asked type", 100.0, "")}
    for kind, r in results.items():
        label, scale, goal = labels[kind]
        if kind == "type":
            plain, steered = f"{np.mean(r['plain']) * 100:.0f}%", f"{np.mean(r['steered']) * 100:.0f}%"
        else:
            plain, steered = f"{np.median(r['plain']) * scale:.1f}", f"{np.median(r['steered']) * scale:.1f}"
        sim = f"| {np.mean(r['sim']):.2f} " if args.sim else ""
        lines.append(f"| {kind} | {label} | {plain} | {steered} | {goal} | {np.mean(r['pen']):.2f} {sim}"
                     f"| {np.mean(r['plain_seconds']):.2f} / {np.mean(r['seconds']):.2f} |")
    sim_head, sim_rule = (" 6-dir simulation, cm |", "---|") if args.sim else ("", "")
    lines += ["", "By asked type (grasps of that type, without and with steering; the quality of the steered grasps, "
              "and of the plain ones in the last row):", "",
              f"| asked | without steering | with steering | penetration, cm |{sim_head}",
              f"|---|---|---|---|{sim_rule}"]
    for t in (*GRASP_TYPES, "plain"):
        share = "| - | - " if t == "plain" else \
            f"| {np.mean(by_type[(t, 'plain')]) * 100:.0f}% | {np.mean(by_type[(t, 'steered')]) * 100:.0f}% "
        sim = f" {np.mean(quality[(t, 'sim')]):.2f} |" if args.sim else ""
        name = "nothing (plain)" if t == "plain" else t
        lines.append(f"| {name} {share}| {np.mean(quality[(t, 'pen')]):.2f} |{sim}")
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
