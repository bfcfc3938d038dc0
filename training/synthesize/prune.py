"""Apply the off-hold quota (``accept.off_hold_allowed``) to grasp shards written before synthesis enforced it.

    python -m training.synthesize.prune data/grasps_everyday data/grasps_pinch --objects data/objects_everyday
        [--dry-run]

Walks each object's accepted grasps in the order they were accepted and drops a grasp off the hold parts wherever
synthesis with the quota would have refused it; the object's stats count it as rejected ("off the hold part"), so
acceptance and throughput stay honest. Shards are taken in order, an object's grasps in earlier shards counting
(a top-up pass writes its grasps in two), and rewritten atomically; running it twice drops nothing more.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from jhod_core.io.atomic import atomic_write
from training.data.corpus import everyday_family
from training.synthesize.accept import OFF_HOLD_REASON, object_part_to_prefer, off_hold_allowed

_WHOLE_SHARD = ("format_version", "skipped_id", "skipped_reason", "stats", "seed")  # not one row per grasp


def keep_mask(object_ids: np.ndarray, on_hold: np.ndarray, has_part: dict, kept: dict | None = None) -> np.ndarray:
    """(G,) bool: the grasps the quota keeps, taking each object's grasps in their order. ``has_part``: object id ->
    whether it has a part to prefer (else all its grasps stay); ``kept``: object id -> ``on_hold_part`` of its grasps
    kept in earlier shards (a top-up pass), extended in place."""
    kept = {} if kept is None else kept
    keep = np.ones(len(object_ids), dtype=bool)
    for i, (oid, h) in enumerate(zip(object_ids, on_hold)):
        before = kept.setdefault(str(oid), [])
        if has_part.get(str(oid)) and h == 0 and not off_hold_allowed(before):
            keep[i] = False
            continue
        before.append(int(h))
    return keep


def prune_shard(path: Path, objects: Path, dry_run: bool = False, kept: dict | None = None) -> Counter:
    """Drops the shard's grasps over the quota (rewriting it unless ``dry_run``); returns dropped grasps per object.
    ``kept``: as ``keep_mask``'s, carried from shard to shard in order, so a top-up's grasps count the earlier ones."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if "on_hold_part" not in arrays:
        return Counter()
    ids = arrays["object_id"]
    has_part = {oid: object_part_to_prefer(objects, oid) is not None for oid in set(map(str, ids))}
    keep = keep_mask(ids, arrays["on_hold_part"], has_part, kept)
    dropped = Counter(str(o) for o in ids[~keep])
    if not dropped or dry_run:
        return dropped
    stats = json.loads(str(arrays["stats"]))
    for s in stats:
        n = dropped.get(s["object_id"], 0)
        if n:
            s["accepted"] -= n
            s["rejected"][OFF_HOLD_REASON] = s["rejected"].get(OFF_HOLD_REASON, 0) + n
    out = {k: (v if k in _WHOLE_SHARD else v[keep]) for k, v in arrays.items()}
    out["stats"] = np.array(json.dumps(stats))
    atomic_write(path, write=lambda tmp: np.savez_compressed(tmp, **out))
    return dropped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", type=Path, help="grasp dataset folders (each with shards/)")
    ap.add_argument("--objects", type=Path, required=True, help="their object corpus (with parts/)")
    ap.add_argument("--dry-run", action="store_true", help="report what would be dropped, change nothing")
    args = ap.parse_args(argv)
    for folder in args.datasets:
        shards = sorted(s for s in (folder / "shards").glob("shard_*.npz") if not s.name.endswith(".tmp.npz"))
        if not shards:
            raise SystemExit(f"error: no grasp shards in {folder / 'shards'}")
        by_family, kept = Counter(), {}
        for i, shard in enumerate(shards):
            for oid, n in prune_shard(shard, args.objects, args.dry_run, kept).items():
                by_family[everyday_family(oid) or oid] += n
            print(f"\r{folder}: {i + 1}/{len(shards)} shards", end="", flush=True)
        verb = "would drop" if args.dry_run else "dropped"
        print(f"\n{folder}: {verb} {sum(by_family.values())} grasps off hold parts"
              + "".join(f"\n  {f}: {n}" for f, n in by_family.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
