"""Synthesize physically checked grasps on many objects, resumably, on all cores.

    python -m training.synthesize --objects data/objects --split train --per-object 16 --out data/grasps

`--objects` is a corpus folder (with manifest.csv, see training.data.corpus) or mesh files. Objects
are grouped into shards of `--shard-size`; each shard is written atomically to
`OUT/shards/shard_XXXXX.npz` (see training.data.grasps for the format); a restarted run skips the
objects finished shards cover (by id, so the corpus may grow between starts) and never redoes or loses
a finished shard. Each object's random stream comes from (--seed, object id): the same command gives the
same grasps. Unusable meshes are skipped with the
reason logged to OUT/skipped.log and stored in the shard.

`--mode bootstrap` polishes the shipped model's proposals instead of optimising from scratch (`mix`: half of each
object's grasps from each); the same acceptance decides, and each grasp records its source.

`--top-up` goes back to objects earlier shards cover with some but fewer than `--per-object` grasps (e.g. after
`training.synthesize.prune`) and asks each for the missing ones, from a new random stream (seed + 1), under the same
acceptance and hold-part quota counted over all the object's grasps, objects that accepted most readily first;
it resumes like a first pass.

`--executor ray [--address HOST:PORT]` runs the same shards as Ray tasks (one CPU each) on a cluster; the corpus
must be readable at the same path on every node (a shared filesystem), and the driver writes the shards, so only
it needs the output folder. Without `--address` a local Ray instance is started.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from training.synthesize.optimizer import GRASP_TYPES, TYPE_PROBABILITIES
from training.synthesize.worker import MODES, shard_summary, synthesize_objects, synthesize_shard


def list_objects(sources: list[str], split: str | None, limit: int | None,
                 max_size: float | None = None, families: set[str] | None = None) -> list[tuple[str, str]]:
    """(object id, mesh path) pairs in a stable order; ``max_size`` (m): corpus objects no longer than this;
    ``families``: corpus objects of these families only."""
    items = []
    for source in sources:
        path = Path(source)
        if path.is_dir() and (path / "manifest.csv").exists():
            from training.data.corpus import load_manifest

            for row in load_manifest(path):
                size = max(row["extent_x"], row["extent_y"], row["extent_z"])
                if ((split is None or row["split"] == split) and (max_size is None or size <= max_size)
                        and (families is None or row["family"] in families)):
                    items.append((row["id"], str(path / "meshes" / f"{row['id']}.ply")))
        elif path.is_file():
            items.append((path.stem, str(path)))
        else:
            raise SystemExit(f"error: {source} is neither a corpus folder with manifest.csv nor a mesh file")
    # a stable, family-mixed order: a partial run still covers every kind of object
    items.sort(key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())
    return items[:limit] if limit else items


def _shard_files(shard_dir: Path) -> list[Path]:
    return sorted(p for p in shard_dir.glob("shard_*.npz") if p.stem.split("_")[1].isdigit())


def finished_objects(shard_dir: Path) -> set[str]:
    """Ids of the objects a finished shard already covers (grasped or skipped). Resuming by id, not by shard
    number, keeps a run correct when the corpus grows between starts: nothing is redone, nothing is missed."""
    import numpy as np

    done = set()
    for path in _shard_files(shard_dir):
        with np.load(path, allow_pickle=False) as z:
            done.update(s["object_id"] for s in json.loads(str(z["stats"])))
            done.update(str(i) for i in z["skipped_id"])
    return done


def grasps_so_far(shard_dir: Path) -> tuple[dict[str, list[int]], set[str], dict[str, float]]:
    """(object id -> ``on_hold_part`` of each of its grasps in the shards, ids whose top-up pass is done, object id
    -> share of its checked candidates that were accepted)."""
    import numpy as np

    holds: dict[str, list[int]] = {}
    topped, rate = set(), {}
    for path in _shard_files(shard_dir):
        with np.load(path, allow_pickle=False) as z:
            on_hold = z["on_hold_part"] if "on_hold_part" in z.files else np.full(len(z["object_id"]), -1)
            for oid, h in zip(z["object_id"], on_hold):
                holds.setdefault(str(oid), []).append(int(h))
            for s in json.loads(str(z["stats"])):
                topped.update([s["object_id"]] if s.get("top_up") else [])
                rate[s["object_id"]] = s["accepted"] / max(1, s["accepted"] + sum(s["rejected"].values()))
    return holds, topped, rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", nargs="+", required=True, help="corpus folder(s) or mesh files")
    parser.add_argument("--split", default=None, help="only objects of this split (corpus folders)")
    parser.add_argument("--limit", type=int, default=None, help="first N objects only")
    parser.add_argument("--per-object", type=int, default=8, help="accepted grasps wanted per object")
    parser.add_argument("--rounds", type=int, default=3, help="optimisation batches per object at most")
    parser.add_argument("--batch", type=int, default=16, help="candidates optimised together")
    parser.add_argument("--steps", type=int, default=200, help="optimiser steps")
    parser.add_argument("--shard-size", type=int, default=4, help="objects per shard")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="local processes (local executor; one torch thread each)")
    parser.add_argument("--mode", choices=MODES, default="scratch",
                        help="scratch: optimise from hands placed around the object; bootstrap: polish the shipped "
                             "model's proposals; mix: half of each")
    parser.add_argument("--weights", default=None,
                        help="model folder that proposes in bootstrap and mix modes (default: the shipped model)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray executor; default: start one here)")
    parser.add_argument("--type-mix", default=None,
                        help="shares of power,precision,pinch among hands started from scratch, e.g. 0,0,1 for "
                             "pinches only (default %s)" % ",".join(map(str, TYPE_PROBABILITIES)))
    parser.add_argument("--max-size", type=float, default=None,
                        help="only corpus objects whose longest side is at most this (m), e.g. 0.12 for pinches")
    parser.add_argument("--families", default=None,
                        help="only corpus objects of these families, comma-separated (e.g. ball,can,jar)")
    parser.add_argument("--top-up", action="store_true",
                        help="only objects earlier shards cover with some but fewer than --per-object grasps: the "
                             "missing ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    type_mix = _type_mix(parser, args.type_mix)

    families = None if args.families is None else set(filter(None, args.families.split(",")))
    objects = list_objects(args.objects, args.split, args.limit, args.max_size, families)
    if not objects:
        parser.error("no objects match --objects, --split, --max-size and --families")
    shard_dir = args.out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    done = finished_objects(shard_dir)
    prior = {}
    if args.top_up:
        holds, topped, rate = grasps_so_far(shard_dir)
        prior = {oid: holds.get(oid, []) for oid, _ in objects if oid in done and oid not in topped
                 and 0 < len(holds.get(oid, [])) < args.per_object}
        done = {oid for oid, _ in objects if oid not in prior}
        # those that took candidates most readily first: the most objects completed per CPU-minute
        objects = sorted(objects, key=lambda item: -rate.get(item[0], 0.0))
    todo = [item for item in objects if item[0] not in done]
    first = max((int(p.stem.split("_")[1]) + 1 for p in _shard_files(shard_dir)), default=0)
    jobs = [{"objects": todo[k:k + args.shard_size],
             "path": str(shard_dir / f"shard_{first + k // args.shard_size:05d}.npz"),
             "seed": args.seed + 1 if args.top_up else args.seed,
             "prior": {oid: prior[oid] for oid, _ in todo[k:k + args.shard_size] if oid in prior},
             "per_object": args.per_object, "rounds": args.rounds, "batch": args.batch, "steps": args.steps,
             "mode": args.mode, "weights": args.weights, "vhacd_cache": str(args.out / "vhacd_cache"),
             "type_mix": type_mix}
            for k in range(0, len(todo), args.shard_size)]
    print(f"{len(objects)} objects; {len(objects) - len(todo)} done in earlier shards"
          f"{' or not short of grasps' if args.top_up else ''}, {len(todo)} to go in "
          f"{len(jobs)} shard(s) with {args.workers} worker(s)", file=sys.stderr)
    # every (re)start appends its arguments: shards written by earlier starts keep their record
    history_file = args.out / "synthesis_config.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    history = history if isinstance(history, list) else [history]
    history.append({**{k: str(v) for k, v in vars(args).items()},
                    "first_new_shard": min((Path(j["path"]).name for j in jobs), default=None)})
    history_file.write_text(json.dumps(history, indent=1))

    from tqdm import tqdm

    t0, accepted = time.time(), 0
    bar = tqdm(total=len(jobs), unit="shard", file=sys.stderr)
    log = open(args.out / "skipped.log", "a")
    results = _map_ray(jobs, args.address, args.workers) if args.executor == "ray" else _map(jobs, args.workers)
    for res in results:
        accepted += res["accepted"]
        for object_id, reason in res["skipped"]:
            log.write(f"{object_id}\t{reason}\n")
        log.flush()
        bar.update(1)
        bar.set_postfix(accepted=accepted, per_min=f"{accepted / max(1e-9, (time.time() - t0) / 60):.1f}")
    bar.close()
    return 0


def _type_mix(parser, text: str | None) -> tuple | None:
    """``--type-mix`` as three shares summing to 1, or None (the default mix); a bad value stops with one sentence."""
    if text is None:
        return None
    try:
        shares = tuple(float(x) for x in text.split(","))
    except ValueError:
        shares = ()
    if len(shares) != len(GRASP_TYPES) or min(shares) < 0 or abs(sum(shares) - 1) > 1e-6:
        parser.error(f"--type-mix takes three shares of {','.join(GRASP_TYPES)} that sum to 1, e.g. 0,0,1; "
                     f"got {text!r}")
    return shares


def _map(jobs, workers):
    """Results as shards finish. A worker killed from outside (e.g. out of memory) breaks the pool:
    start a new one for the shards not yet written; finished shards are safe on disk."""
    if workers <= 1:
        yield from map(synthesize_shard, jobs)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pending = list(jobs)
    for attempt in range(3):
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(synthesize_shard, job): job for job in pending}
            try:
                for future in as_completed(futures):
                    result = future.result()
                    pending.remove(futures[future])
                    yield result
                return
            except BrokenProcessPool:
                print(f"warning: a worker died; restarting the pool for {len(pending)} shard(s)", file=sys.stderr)
    raise SystemExit("error: workers keep dying (out of memory?); rerun to resume")


def _map_ray(jobs, address, workers):
    """Results as shards finish, computed by Ray tasks (1 CPU each) and written here, atomically, by the driver."""
    try:
        import ray
    except ImportError:
        raise SystemExit("error: --executor ray needs Ray: pip install 'ray>=2.9'") from None
    from training.data.grasps import save_shard

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False)
    task = ray.remote(num_cpus=1, max_retries=2)(synthesize_objects)
    pending = {task.remote(job): job for job in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(done[0])
        shard = ray.get(done[0])
        save_shard(job["path"], **shard, seed=job["seed"])
        yield shard_summary(job, shard)


if __name__ == "__main__":
    sys.exit(main())
