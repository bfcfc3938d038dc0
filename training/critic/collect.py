"""Training data for the critic: the model's own refined samples on corpus objects, each simulated.

    python -m training.critic.collect --objects data/objects data/objects_everyday --split train \
        --per-object 12 --out data/critic/train [--weights DIR] [--limit N]

Per object (a seeded order of the split's objects over all corpora, so a partial run covers every family):
``--per-object`` grasps of the model in ``--weights`` (default: the shipped one), each refined and none chosen
(``candidates=1``: the pool the pipeline's choice picks from), with the object's seed; then the six-direction
simulation of each, run to the end (``metrics.simulation_displacements``). Shards of ``--shard-size`` objects
(``shard_NNNNN.npz``: ``object_id``, ``corpus``, ``seed``, ``params`` (G, 51), ``sim_cm`` (G, 6), ``grasp``
index, exact ``penetration_cm`` and ``volume_cm3``; ``--add-overlap`` adds these two to older shards) are written
atomically; a restart skips the objects already in shards, and those the pipeline refused (``skipped.txt``).
Features are not stored: the trainer recomputes them (``jhod_core.critic.grasp_features``) from the params and
the object. ``--no-sim`` stores the samples without simulation or overlap (the part head's data: where the hand is,
judged on the object's part labels; ``train.py --part-data``), ``--with-hold-part`` only objects with a part to
prefer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jhod_core.errors import JHODError  # noqa: E402
from jhod_core.io.atomic import atomic_write  # noqa: E402
from training.data.corpus import load_manifest, stable_seed  # noqa: E402
from training.synthesize.worker import object_seed  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", nargs="+", default=["data/objects", "data/objects_everyday"])
    p.add_argument("--split", default="train")
    p.add_argument("--per-object", type=int, default=12)
    p.add_argument("--shard-size", type=int, default=8)
    p.add_argument("--limit", type=int, default=None, help="first N objects of the seeded order only")
    p.add_argument("--part", default=None, metavar="K/N",
                   help="every N-th object of the order from the K-th (0-based): N collectors side by side, each "
                        "with its own --out; the trainer takes all the folders")
    p.add_argument("--weights", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--no-sim", action="store_true", help="store the samples only (no simulation, no overlap)")
    p.add_argument("--with-hold-part", action="store_true", help="only objects with a part to prefer")
    p.add_argument("--add-overlap", action="store_true",
                   help="only add penetration and volume to the shards in --out that lack them, then stop")
    args = p.parse_args(argv)
    if args.part is not None:
        k, _, n = args.part.partition("/")
        if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
            p.error(f"--part takes K/N with 0 <= K < N, e.g. 0/2; got {args.part!r}")
        args.part = (int(k), int(n))
    return args


def object_order(roots, split: str, seed: int, limit: int | None, part: tuple[int, int] | None = None,
                 with_hold_part: bool = False) -> list[tuple[str, str]]:
    """(corpus, id) of the split's objects in a seeded order that does not depend on the corpus sizes; ``part``
    (k, n): every n-th of them from the k-th; ``with_hold_part``: only objects with a part to prefer."""
    from training.synthesize.accept import object_part_to_prefer

    items = [(str(root), row["id"]) for root in roots for row in load_manifest(root) if row["split"] == split]
    if with_hold_part:
        items = [(root, i) for root, i in items if object_part_to_prefer(root, i) is not None]
    items.sort(key=lambda item: stable_seed("critic", seed, item[1]))
    items = items[:limit] if limit else items
    return items[part[0]::part[1]] if part else items


def done_objects(shards: Path) -> set[str]:
    done = set()
    for path in sorted(shards.glob("shard_*.npz")):
        with np.load(path, allow_pickle=False) as z:
            done |= set(z["object_id"].tolist())
    return done


def collect_object(backend, corpus: str, object_id: str, per_object: int, seed: int, cache: Path,
                   simulate: bool = True) -> dict:
    """The ``per_object`` refined samples of one object and (``simulate``) their simulated displacements (cm, six
    directions) and overlap with the object."""
    import trimesh

    from jhod_core import metrics
    from jhod_core.hand.params import join_params
    from jhod_core.pipeline import collect, iter_grasps
    from training.data.corpus import load_object_mesh

    mesh = load_object_mesh(corpus, object_id)
    s = object_seed(seed, object_id) % 2**31
    result = collect(iter_grasps(backend, mesh, per_object, seed=s, candidates=1))
    rows = {"object_id": np.full(per_object, object_id), "corpus": np.full(per_object, corpus),
            "seed": np.full(per_object, s, dtype=np.int64), "grasp": np.arange(per_object),
            "params": join_params(result["global_orient"], result["hand_pose"], result["transl"]).astype(np.float32)}
    if not simulate:
        return rows
    hands = [trimesh.Trimesh(v, result["faces"], process=False) for v in result["vertices"]]
    sims = np.stack([metrics.simulation_displacements(mesh, hand, cache=cache) for hand in hands])
    return {**rows, "sim_cm": sims.astype(np.float32), **overlap(mesh, result["vertices"], result["faces"])}


def overlap(mesh, vertices: np.ndarray, faces: np.ndarray) -> dict:
    """Exact penetration depth (cm) and intersection volume (cm3) of hands ``vertices`` (G, V, 3) in ``mesh``: with
    the simulation, what the data engine accepts by (a hand sunk round a handle "holds" in the simulation)."""
    import trimesh

    from jhod_core import metrics

    return {"penetration_cm": np.array([metrics.penetration_depth(mesh, v) for v in vertices], dtype=np.float32),
            "volume_cm3": np.array([metrics.intersection_volume(mesh, trimesh.Trimesh(v, faces, process=False))
                                    for v in vertices], dtype=np.float32)}


def add_overlap(shards: Path) -> None:
    """Adds ``overlap`` to shards collected before it was stored (one shard at a time, rewritten atomically: an
    interrupted run resumes)."""
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from training.data.corpus import load_object_mesh

    data = load_hand_data()
    paths = sorted(shards.glob("shard_*.npz"))
    for n, path in enumerate(paths):
        with np.load(path, allow_pickle=False) as z:
            shard = {k: z[k] for k in z.files}
        if "volume_cm3" in shard:
            continue
        parts = {"penetration_cm": np.zeros(len(shard["object_id"]), np.float32),
                 "volume_cm3": np.zeros(len(shard["object_id"]), np.float32)}
        keys = np.char.add(np.char.add(shard["corpus"].astype(str), "/"), shard["object_id"].astype(str))
        for key in np.unique(keys):
            sel = np.flatnonzero(keys == key)
            corpus, object_id = key.rsplit("/", 1)
            vertices = numpy_forward(data, *split_params(shard["params"][sel].astype(np.float64)))[0]
            for name, values in overlap(load_object_mesh(corpus, object_id), vertices, data.closed_faces).items():
                parts[name][sel] = values
        shard.update(parts)
        atomic_write(path, write=lambda tmp: np.savez_compressed(tmp, **shard))
        print(f"{path.name}: overlap added ({n + 1}/{len(paths)})", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    from jhod_core.pipeline import load_backend, set_threads

    set_threads(args.threads)
    shards = args.out / "shards"
    if args.add_overlap:
        add_overlap(shards)
        return 0
    shards.mkdir(parents=True, exist_ok=True)
    skipped_file = args.out / "skipped.txt"  # objects the pipeline refuses (e.g. sheet-thin): not retried
    skipped = set(skipped_file.read_text().split()) if skipped_file.exists() else set()
    done = done_objects(shards) | skipped
    order = object_order(args.objects, args.split, args.seed, args.limit, args.part, args.with_hold_part)
    todo = [item for item in order if item[1] not in done]
    first = max((int(p.stem.split("_")[1]) + 1 for p in shards.glob("shard_*.npz")), default=0)
    print(f"{len(done)} objects done, {len(todo)} to go", file=sys.stderr, flush=True)
    backend = load_backend(args.weights, "auto")
    cache = args.out / "vhacd_cache"
    t0 = time.perf_counter()
    for k in range(0, len(todo), args.shard_size):
        parts = []
        for corpus, oid in todo[k:k + args.shard_size]:
            try:
                parts.append(collect_object(backend, corpus, oid, args.per_object, args.seed, cache,
                                            not args.no_sim))
            except JHODError as exc:
                print(f"skipped {oid}: {exc}", file=sys.stderr, flush=True)
                with open(skipped_file, "a") as handle:
                    handle.write(oid + "\n")
        if not parts:
            continue
        shard = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        path = shards / f"shard_{first + k // args.shard_size:05d}.npz"
        atomic_write(path, write=lambda tmp: np.savez_compressed(tmp, **shard))
        held = f", held {np.mean(shard['sim_cm'].mean(axis=1) <= 2.0):.0%}" if "sim_cm" in shard else ""
        rate = (k + len(parts)) * args.per_object / (time.perf_counter() - t0)
        print(f"{path.name}: {k + len(parts)}/{len(todo)} objects{held}, {rate:.2f} grasps/s",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
