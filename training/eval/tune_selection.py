"""Choosing the sampling defaults on validation objects: DDIM steps, candidates per grasp, the selection score.

    python -m training.eval.tune_selection --steps 25,50 --max-objects 20 --pool 24 --workers 2 \
        --out docs/eval/tuning

Validation objects only (the first ``--max-objects`` of the val split in the evaluation's seeded order), so the
test and OOD numbers stay unbiased. Per object and DDIM step count, ``--pool`` grasps are sampled (seed 0),
all refined (``jhod_core.refine``) and all measured (penetration, volume, both simulation displacements). The
choice among candidates is then replayed offline: K candidates per grasp = the first 8 K of the pool, the 8
best-scored kept, for

* ``held``: ``GraspRefiner.scores``' hold term, the share of the 26 pull directions blocked by a hand vertex
  within ``HOLD_GAP`` (the shipped score), and
* ``coverage``: the mean over pull directions of the best contact's n . g, clipped at ``BLOCKS`` (contacts
  within ``CONTACT_GAP``; what the finger choice climbs, and the score before), on the same vertices,

each minus a grid of penetration weights (per metre). ``oracle`` rows choose by the measured six-direction
displacement itself: the ceiling of any score on this pool. The report also gives how well each score term
separates dropped grasps (simulation -y displacement over ``DROP_CM``) from held ones (ROC AUC). Writes
``rows.jsonl`` (every pooled grasp with its score terms), ``meta.json`` (the command) and ``report.md``.
``--replay`` re-makes the report from the ``rows.jsonl`` already in ``--out`` (another weight grid, no sampling
or simulation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from jhod_core.pipeline import CHOICE_BLOCK
from jhod_core.refine import SELECT_PENETRATION as BLOCK_WEIGHT
from training.eval.methods import pick_objects
from training.eval.worker import measure_object

METRICS = (("penetration_depth_cm", "pen. cm"), ("intersection_volume_cm3", "vol. cm3"),
           ("sim_displacement_cm", "sim -y cm"), ("sim_displacement_6dir_cm", "sim 6-dir cm"))
KEEP = 8
DROP_CM = 5.0  # a free object falls 10.7 cm in the protocol's 35 steps: over 5 cm the hand did not hold it


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", default="data/objects")
    p.add_argument("--weights", default=None, help="model folder (default: shipped)")
    p.add_argument("--steps", default="25,50", help="DDIM step counts to compare")
    p.add_argument("--max-objects", type=int, default=20)
    p.add_argument("--pool", type=int, default=24, help="grasps sampled and measured per object (8 x largest K)")
    p.add_argument("--weights-grid", default="0,10,15,20,30,60", help="penetration weights (per metre) to replay")
    p.add_argument("--replay", action="store_true", help="only re-make report.md from --out's rows.jsonl")
    p.add_argument("--seed", type=int, default=1, help="object order (the samples use seed 0)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", required=True)
    return p.parse_args(argv)


def pool_rows(args) -> list[dict]:
    """Every pooled grasp, refined and measured, with its score terms."""
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import HAND_POSE, join_params, split_params
    from jhod_core.pipeline import collect, iter_grasps, load_backend, prepare_object, set_threads
    from jhod_core.refine import CONTACT_GAP, GraspRefiner, ObjectSurface, _blocking, _coverage
    from training.data.corpus import load_object_mesh

    set_threads(1)
    model = load_backend(args.weights)
    data = load_hand_data()
    refiner = GraspRefiner.for_hand(data)
    jobs, terms = [], {}
    for steps in [int(s) for s in args.steps.split(",")]:
        for n, (oid, _) in enumerate(pick_objects(args.objects, ["val"], args.max_objects, args.seed)):
            print(f"[{steps} steps] {n + 1}/{args.max_objects} {oid}", flush=True)
            mesh = load_object_mesh(args.objects, oid)
            raw = collect(iter_grasps(model, mesh, args.pool, steps=steps, seed=0, refine=False))
            prepared = prepare_object(mesh, seed=0)
            surface = ObjectSurface.from_points(prepared.points, prepared.normals)
            params = refiner(join_params(raw["global_orient"], raw["hand_pose"], raw["transl"]), surface)
            held, depth = refiner.hold_terms(params, surface)
            global_orient, hand_pose, transl = split_params(params)
            verts = numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)[0]
            coverage = _coverage(_blocking(*surface.signed_distance(verts), CONTACT_GAP))
            method = f"steps{steps}"
            terms[(method, oid)] = (held, coverage, depth)
            jobs.append({"object_id": oid, "split": "val", "method": method, "sim": True,
                         "mesh": str(Path(args.objects) / "meshes" / f"{oid}.ply"), "vertices": verts,
                         "hand_pose": params[:, HAND_POSE]})
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for k, result in enumerate(pool.map(measure_object, jobs)):
            for r in result:
                held, coverage, depth = terms[(r["method"], r["object_id"])]
                i = r["grasp"]
                rows.append({**r, "held": float(held[i]), "coverage": float(coverage[i]), "depth_m": float(depth[i])})
            print(f"  measured {k + 1}/{len(jobs)}", flush=True)
    return rows


def replay(rows: list[dict], candidates: int, score: str, weight: float, block: int = KEEP) -> dict:
    """Mean metrics of the KEEP grasps chosen from the first KEEP x ``candidates`` of every object: in blocks of
    ``block`` grasps (block b: pool grasps b x block x candidates onwards, its ``block`` best-scored kept; the
    pipeline's choice, ``CHOICE_BLOCK``); ``block=KEEP`` chooses among all of them, ``block=1`` per grasp."""
    chosen = []
    for oid in sorted({r["object_id"] for r in rows}):
        pool = sorted((r for r in rows if r["object_id"] == oid), key=lambda r: r["grasp"])[:KEEP * candidates]
        if score == "oracle":  # the measurement itself, not a score one could compute before simulating
            values = -np.array([r["sim_displacement_6dir_cm"] for r in pool])
        else:
            values = np.array([r[score] - weight * r["depth_m"] for r in pool])
        group = block * candidates
        for start in range(0, len(pool), group):
            chosen += [pool[start + i] for i in np.argsort(-values[start:start + group], kind="stable")[:block]]
    return {key: float(np.mean([r[key] for r in chosen])) for key, _ in METRICS}


def dropped(rows: list[dict]) -> np.ndarray:
    """(N,) bool: grasps whose -y simulation displacement is over ``DROP_CM`` (the hand did not hold the object)."""
    return np.array([r["sim_displacement_cm"] > DROP_CM for r in rows], dtype=bool)


def drop_auc(rows: list[dict], term: str) -> float:
    """ROC AUC of ``term`` (higher = should hold) separating held grasps from dropped ones (-y over DROP_CM):
    the chance that a random held grasp scores above a random dropped one, ties counting half."""
    values = np.array([r[term] for r in rows])
    fell_mask = dropped(rows)
    held, fell = values[~fell_mask], values[fell_mask]
    if not len(held) or not len(fell):
        return float("nan")
    above = (held[:, None] > fell[None]).mean() + 0.5 * (held[:, None] == fell[None]).mean()
    return float(above)


def report(rows: list[dict], args, meta: dict) -> str:
    weights = [float(w) for w in args.weights_grid.split(",")]
    command = f"`{meta['command']}` ({meta['minutes']:.0f} min)"
    if args.replay:
        command += f", table replayed by `python -m training.eval.tune_selection {' '.join(sys.argv[1:])}`"
    lines = ["# Choosing the defaults on validation objects", "",
             f"Command: {command}. {args.max_objects} val objects (order seed {args.seed}), a pool of "
             f"{args.pool} refined grasps each (sample seed 0); K candidates = the first 8 K of the pool, the 8 "
             "best-scored kept; score = `held` or `coverage` minus weight x penetration depth (m).", ""]
    sims = np.array([r["sim_displacement_6dir_cm"] for r in rows])
    for score in ("held", "coverage"):
        r = np.corrcoef([x[score] for x in rows], sims)[0, 1]
        lines.append(f"- correlation of `{score}` with the six-direction displacement over all "
                     f"{len(rows)} pooled grasps: r = {r:+.2f}")
    drops = dropped(rows).mean()
    aucs = ", ".join(f"`{term}` {drop_auc(rows, term):.3f}" for term in ("held", "coverage"))
    lines.append(f"- {drops:.0%} of the pooled grasps drop (-y displacement over {DROP_CM:g} cm); ROC AUC separating "
                 f"held from dropped grasps: {aucs}, `depth_m` {drop_auc(rows, 'depth_m'):.3f} (over 0.5: deeper hands "
                 "hold more often, which the penetration weight works against)")
    lines += ["", "| steps | K | score | weight | " + " | ".join(name for _, name in METRICS) + " |",
              "|---|---|---|---|" + "---|" * len(METRICS)]
    for method in sorted({r["method"] for r in rows}, key=lambda m: int(m[5:])):
        own = [r for r in rows if r["method"] == method]
        most = args.pool // KEEP
        for k in range(1, most + 1):
            for score in (("held",) if k == 1 else ("held", "coverage", "oracle")):
                for weight in ((0.0,) if k == 1 or score == "oracle" else weights):
                    means = replay(own, k, score, weight)
                    lines.append(f"| {method[5:]} | {k} | {score if k > 1 else '-'} | "
                                 f"{weight:g} | " + " | ".join(f"{means[key]:.2f}" for key, _ in METRICS) + " |")
    lines += ["", f"Choosing in blocks (score `held` - {BLOCK_WEIGHT:g} x depth): the 8 grasps of an object are "
              "chosen as blocks of B grasps, each block keeping its B best-scored of its own B x K candidates (B = 8: "
              "among all, as before December 2026; B = 1: each grasp among its own; the pipeline uses B = "
              f"{CHOICE_BLOCK}, which keeps grasp i independent of how many are asked for).", "",
              "| steps | K | B | " + " | ".join(name for _, name in METRICS) + " |",
              "|---|---|---|" + "---|" * len(METRICS)]
    for method in sorted({r["method"] for r in rows}, key=lambda m: int(m[5:])):
        own = [r for r in rows if r["method"] == method]
        for k in range(2, args.pool // KEEP + 1):
            for block in (1, 2, 4, 8):
                means = replay(own, k, "held", BLOCK_WEIGHT, block)
                values = " | ".join(f"{means[key]:.2f}" for key, _ in METRICS)
                lines.append(f"| {method[5:]} | {k} | {block} | {values} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replay:
        rows = [json.loads(line) for line in open(out / "rows.jsonl")]
        meta = json.loads((out / "meta.json").read_text())
    else:
        start = time.perf_counter()
        rows = pool_rows(args)
        with open(out / "rows.jsonl", "w") as handle:
            for r in rows:
                handle.write(json.dumps(r) + "\n")
        meta = {"command": "python -m training.eval.tune_selection " + " ".join(sys.argv[1:]),
                "minutes": (time.perf_counter() - start) / 60}
        (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "report.md").write_text(report(rows, args, meta))
    print((out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
