"""Synthesize physically checked grasps on many objects, resumably, on all cores.

    python -m training.synthesize --objects data/objects --split train --per-object 16 --out data/grasps

`--objects` is a corpus folder (with manifest.csv, see training.data.corpus) or mesh files. Objects
are grouped into shards of `--shard-size`; each shard is written atomically to
`OUT/shards/shard_XXXXX.npz` (see training.data.grasps for the format), so a killed run restarts
where it stopped and never redoes or loses a finished shard. Each object's random stream comes from
(--seed, object id): the same command gives the same grasps. Unusable meshes are skipped with the
reason logged to OUT/skipped.log and stored in the shard.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from training.synthesize.worker import synthesize_shard


def list_objects(sources: list[str], split: str | None, limit: int | None) -> list[tuple[str, str]]:
    """(object id, mesh path) pairs in a stable order."""
    items = []
    for source in sources:
        path = Path(source)
        if path.is_dir() and (path / "manifest.csv").exists():
            from training.data.corpus import load_manifest

            for row in load_manifest(path):
                if split is None or row["split"] == split:
                    items.append((row["id"], str(path / "meshes" / f"{row['id']}.ply")))
        elif path.is_file():
            items.append((path.stem, str(path)))
        else:
            raise SystemExit(f"error: {source} is neither a corpus folder with manifest.csv nor a mesh file")
    # a stable, family-mixed order: a partial run still covers every kind of object
    items.sort(key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())
    return items[:limit] if limit else items


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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    objects = list_objects(args.objects, args.split, args.limit)
    shard_dir = args.out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k in range(0, len(objects), args.shard_size):
        path = shard_dir / f"shard_{k // args.shard_size:05d}.npz"
        if path.exists():
            continue  # finished earlier: never redone
        jobs.append(dict(objects=objects[k:k + args.shard_size], path=str(path), seed=args.seed,
                         per_object=args.per_object, rounds=args.rounds, batch=args.batch, steps=args.steps,
                         vhacd_cache=str(args.out / "vhacd_cache")))
    total_shards = (len(objects) + args.shard_size - 1) // args.shard_size
    print(f"{len(objects)} objects in {total_shards} shards; {total_shards - len(jobs)} already done, "
          f"{len(jobs)} to go with {args.workers} worker(s)", file=sys.stderr)
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
    results = _map(jobs, args.workers)
    for res in results:
        accepted += res["accepted"]
        for object_id, reason in res["skipped"]:
            log.write(f"{object_id}\t{reason}\n")
        log.flush()
        bar.update(1)
        bar.set_postfix(accepted=accepted, per_min=f"{accepted / max(1e-9, (time.time() - t0) / 60):.1f}")
    bar.close()
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
