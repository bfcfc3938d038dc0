"""Table 1-style evaluation on held-out objects: quality, diversity and speed per method.

    python -m training.eval --weights jhod_core/assets/model --objects data/objects \
        --splits test,ood_test --max-objects 40 --num 8 --out reports/eval/default

Methods (``--methods``, comma separated):
  jhod_raw    conditional JHOD samples, no refinement (``sample_grasps(refine=False)``)
  jhod        what ``jhod sample`` returns: ``--candidates`` samples per grasp refined (``jhod_core.refine``), the
              best-scored kept
  jhod_joint  what ``jhod sample-joint`` returns: hand and object sampled together, each hand chosen among
              ``--pair-candidates`` on its own generated (surfaced) object and measured there; not tied to the
              held-out objects
  grabnet     the GrabNet-style baseline (``training.baselines.grabnet``, CoarseNet + RefineNet), trained
              on the same grasps; ``--grabnet`` points at its weights
  optimizer   the data engine's optimiser (``training.synthesize``), every output, no acceptance filter:
              the slow quality reference

Objects: the first ``--max-objects`` of each split in a seeded random order (all named ``ood_test``
household objects fit). Every object gets ``--num`` grasps with seed ``--seed``. Metrics per grasp are
``jhod_core.metrics.evaluate_grasp`` (penetration, volume, contact, simulation displacement with
gravity along -y and the six-direction mean) plus digits in contact and joint-limit violation, and for objects
with part labels (the everyday corpus) whether the hand's contact centroid lies on a part people hold;
diversity is k-means entropy over all grasps of a (method, split). Speed is grasps per second of
wall time for sampling (+ refinement), measured in this process, one object at a time.

Writes ``rows.jsonl`` (one line per grasp), ``timing.json``, ``summary.json``, ``report.md`` with the
tables, ``histograms.png`` and a picture sheet per method (random, not chosen) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from jhod_core.pipeline import CANDIDATES, DEFAULT_DDIM_STEPS, PAIR_CANDIDATES
from training.eval.methods import METHODS, METRIC_KEYS, Context, pick_objects
from training.eval.worker import measure_object


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="folder with autoencoder.npz + denoiser.npz (default: shipped)")
    p.add_argument("--objects", default="data/objects")
    p.add_argument("--splits", default="test,ood_test")
    p.add_argument("--max-objects", type=int, default=40, help="per split")
    p.add_argument("--with-hold-part", action="store_true",
                   help="only corpus objects with a part people hold rather than the rest (handles, grips)")
    p.add_argument("--num", type=int, default=8, help="grasps per object")
    p.add_argument("--joint-num", type=int, default=64, help="hand-object pairs for jhod_joint")
    p.add_argument("--steps", type=int, default=DEFAULT_DDIM_STEPS, help=f"DDIM steps (default {DEFAULT_DDIM_STEPS})")
    p.add_argument("--methods", default="jhod_raw,jhod,jhod_joint", help=f"comma separated, of {', '.join(METHODS)}")
    p.add_argument("--candidates", type=int, default=CANDIDATES,
                   help=f"jhod: samples per returned grasp, best-scored kept (default {CANDIDATES}, as `jhod sample`)")
    p.add_argument("--pair-candidates", type=int, default=PAIR_CANDIDATES,
                   help=f"jhod_joint: hands per pair, its own and conditional samples on its object, best kept "
                        f"(default {PAIR_CANDIDATES}, as `jhod sample-joint`; 1: the joint hand refined)")
    p.add_argument("--grabnet", default="models/grabnet/grabnet.pt", help="weights of the grabnet method")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sim", action="store_true", help="skip the PyBullet metrics (fast check)")
    p.add_argument("--workers", type=int, default=1, help="processes for the metrics")
    p.add_argument("--protocol", choices=("jhod", "halo", "grasptta", "oakink"), default="jhod",
                   help="whose metric definitions to reproduce (docs/metrics.md)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where the metric jobs run: local processes, or Ray tasks (--address: a cluster)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start one here)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for sampling (torch and BLAS)")
    p.add_argument("--fid-extractor", default=None, metavar="MODULE:FUNCTION",
                   help="FID hook: a function (list of dicts with hand_vertices, hand_faces, object_vertices, "
                        "object_faces; metres) -> features (N, D), e.g. Inception activations of your renders")
    p.add_argument("--fid-reference", default="optimizer", help="method whose grasps are the FID reference")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    unknown = [m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    return args


def generate(args, objects) -> tuple[list[dict], dict, dict]:
    """Hands of every method (``training.eval.methods``): jobs for the metric workers, per-method seconds of
    sampling and grasp counts."""
    from jhod_core.hand import load_hand_data
    from jhod_core.pipeline import set_threads
    from training.data.corpus import load_object_mesh

    set_threads(args.threads)
    methods = [METHODS[name] for name in args.methods.split(",")]
    ctx = Context(args, load_hand_data())
    for method in methods:
        if method.prepare is not None:
            method.prepare(ctx)
    seconds = {m.name: 0.0 for m in methods}
    counts = {m.name: 0 for m in methods}
    jobs = []
    for n, (oid, split) in enumerate(objects):
        mesh = load_object_mesh(args.objects, oid)
        print(f"[{n + 1}/{len(objects)}] {oid} ({split})", flush=True)
        base = {"object_id": oid, "split": split, "mesh": str(Path(args.objects) / "meshes" / f"{oid}.ply"),
                "sim": not args.no_sim, "protocol": args.protocol}
        for method in (m for m in methods if not m.joint):
            t = time.perf_counter()
            jobs.append(method.run(ctx, mesh, base))
            seconds[method.name] += time.perf_counter() - t
            counts[method.name] += args.num
    for method in (m for m in methods if m.joint):
        t = time.perf_counter()
        made = method.run(ctx)
        seconds[method.name] += time.perf_counter() - t
        counts[method.name] += len(made)
        jobs += made
    return jobs, seconds, counts


def summarise(rows: list[dict], jobs: list[dict], seconds: dict, counts: dict) -> list[dict]:
    """One entry per (method, split): metric means, each with ``<metric>_se``, its standard error over objects
    (``training.eval.uncertainty``; None with one object), diversity, speed."""
    from jhod_core.metrics import diversity
    from training.eval.uncertainty import mean_and_error

    table = []
    order = list(METHODS)
    groups = sorted({(r["method"], r["split"]) for r in rows}, key=lambda g: (order.index(g[0]), g[1]))
    for method, split in groups:
        sel = [r for r in rows if r["method"] == method and r["split"] == split]
        kp = np.concatenate([j["keypoints"] for j in jobs if j["method"] == method and j["split"] == split])
        entropy, cluster = diversity(kp)
        entry = {"method": method, "split": split, "grasps": len(sel),
                 "objects": len({r["object_id"] for r in sel}),
                 "contact_ratio": float(np.mean([r["contact"] for r in sel])),
                 "three_digits_ratio": float(np.mean([r["digits_in_contact"] >= 3 for r in sel])),
                 "limit_violation_deg_mean": float(np.mean([r["limit_violation_deg"] for r in sel])),
                 "diversity_entropy": entropy, "diversity_cluster_cm": cluster,
                 "on_hold_part_ratio": (float(np.mean([r["on_hold_part"] for r in sel if "on_hold_part" in r]))
                                        if any("on_hold_part" in r for r in sel) else None),
                 "grasps_per_s": counts[method] / seconds[method] if seconds.get(method) else None}
        for key in METRIC_KEYS:
            values = [r[key] for r in sel if r[key] is not None]
            entry[key] = float(np.mean(values)) if values else None
            per_object = [np.mean([r[key] for r in sel if r["object_id"] == oid and r[key] is not None])
                          for oid in sorted({r["object_id"] for r in sel if r[key] is not None})]
            error = mean_and_error(per_object)[1] if len(per_object) > 1 else None
            entry[f"{key}_se"] = error
        table.append(entry)
    return table


def add_fid(table: list[dict], jobs: list[dict], extractor: str, reference: str) -> None:
    """FID of every (method, split) against the reference method's grasps on the same split."""
    import importlib

    import trimesh

    from jhod_core.hand import load_hand_data
    from jhod_core.metrics import frechet_distance

    module, _, name = extractor.partition(":")
    extract = getattr(importlib.import_module(module), name)
    faces = load_hand_data().closed_faces

    def features(method, split):
        scenes = []
        for job in (j for j in jobs if j["method"] == method and j["split"] == split):
            mesh = job["mesh"]
            mesh = trimesh.load(mesh, process=False) if isinstance(mesh, str) else trimesh.Trimesh(*mesh, process=False)
            scenes += [{"hand_vertices": v, "hand_faces": faces, "object_vertices": np.asarray(mesh.vertices),
                        "object_faces": np.asarray(mesh.faces)} for v in job["vertices"]]
        return np.asarray(extract(scenes)) if scenes else None

    for entry in table:
        ref = features(reference, entry["split"])
        own = features(entry["method"], entry["split"])
        entry["fid"] = frechet_distance(own, ref) if ref is not None and own is not None else None


def measure_all(jobs: list[dict], args):
    """Metric rows of every job, in job order: local processes, or Ray tasks (one CPU each) on a cluster; the
    object meshes travel inside the jobs' paths, so the corpus must be readable at the same path on every node."""
    if args.executor == "ray":
        try:
            import ray
        except ImportError:
            raise SystemExit("error: --executor ray needs Ray: pip install 'ray>=2.9'") from None
        if not ray.is_initialized():
            ray.init(address=args.address, num_cpus=None if args.address else args.workers,
                     include_dashboard=False, log_to_driver=False)
        task = ray.remote(num_cpus=1, max_retries=2)(measure_object)
        yield from ray.get([task.remote(job) for job in jobs])
        return
    with ProcessPoolExecutor(args.workers) as pool:
        yield from pool.map(measure_object, jobs)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    objects = pick_objects(args.objects, args.splits.split(","), args.max_objects, args.seed,
                           args.with_hold_part)
    jobs, seconds, counts = generate(args, objects)
    print(f"measuring {sum(len(j['vertices']) for j in jobs)} grasps ...", flush=True)
    for job in jobs:
        job.setdefault("protocol", args.protocol)
    rows = []
    for k, result in enumerate(measure_all(jobs, args)):
        rows += result
        if (k + 1) % 10 == 0 or k + 1 == len(jobs):
            print(f"  measured {k + 1}/{len(jobs)} objects", flush=True)
    with open(out / "rows.jsonl", "w") as handle:
        for r in rows:
            handle.write(json.dumps(r) + "\n")
    np.savez_compressed(out / "hands.npz", **{f"{j['method']}/{j['object_id']}": j["params"] for j in jobs})
    table = summarise(rows, jobs, seconds, counts)
    if args.fid_extractor:
        add_fid(table, jobs, args.fid_extractor, args.fid_reference)
    (out / "timing.json").write_text(json.dumps({"seconds": seconds, "grasps": counts}, indent=1) + "\n")
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "command": " ".join(sys.argv),
                                                  "table": table}, indent=1) + "\n")
    from training.eval.report import write_report

    write_report(out, args, table, rows, jobs)
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
