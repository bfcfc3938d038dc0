"""The grasp dataset on disk (format version 1): shards and their loader. Torch-free (the Blender batch reads it).

A dataset folder holds `shards/shard_XXXXX.npz`, each a plain-array npz (no pickle):

| key | shape / dtype | meaning |
|---|---|---|
| format_version | () int | 1 |
| object_id | (G,) str | object of each grasp (id in the object corpus manifest) |
| global_orient, transl | (G, 3) float32 | MANO wrist rotation (axis-angle) and translation, object frame, metres |
| hand_pose | (G, 45) float32 | MANO finger pose, axis-angle, flat hand = zeros (flat_hand_mean=True) |
| keypoints | (G, 21, 3) float32 | 21 hand keypoints (wrist, thumb..pinky, tips), metres |
| kind | (G,) str | grasp type the optimiser aimed for (power / precision / pinch) |
| penetration_depth_cm, intersection_volume_cm3, sim_displacement_6dir_cm, limit_violation_deg | (G,) float32 | metrics at acceptance |
| digits_in_contact | (G, 5) bool | thumb, index, middle, ring, pinky touching |
| on_hold_part | (G,) int8 | 1: the contact centroid lies on a part people hold (objects with part labels), 0: not, -1: no labels (optional: older shards read as -1) |
| betas | (G, 10) float32 | the hand's MANO shape (optional: older shards and synthesized grasps read as zeros, the mean hand) |
| source | (G,) str | what proposed the grasp before the optimiser polished it: `optimiser` (hands started around the object) or `model` (the shipped model's samples; bootstrapped synthesis) (optional: older shards read as `optimiser`) |
| skipped_id, skipped_reason | (S,) str | objects that could not be used, and why |
| stats | () str | JSON list: per object tried / accepted / rejection reasons / seconds |
| seed | () int | run seed |

Object point clouds come from the object corpus (`data/objects/points.npz`), joined by id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write

FORMAT_VERSION = 1
DIGITS = ("thumb", "index", "middle", "ring", "pinky")
_FLOAT_KEYS = ("penetration_depth_cm", "intersection_volume_cm3", "sim_displacement_6dir_cm", "limit_violation_deg")
SOURCES = ("optimiser", "model")  # values of ``source``: what proposed a grasp
_NOT_PER_GRASP = ("skipped_id", "skipped_reason", "stats")  # keys of a load_grasps result that are not per grasp


def save_shard(path: str | os.PathLike, records: list[dict], skipped: list[tuple[str, str]], stats: list[dict],
               seed: int) -> None:
    """Write one shard atomically (temp file + rename): a reader never sees half a shard."""
    path = Path(path)
    g = len(records)

    def col(key, shape=(), dtype=np.float32):
        return np.array([r[key] for r in records], dtype=dtype).reshape((g,) + shape)

    arrays = dict(
        format_version=np.array(FORMAT_VERSION),
        object_id=np.array([r["object_id"] for r in records], dtype="<U64"),
        global_orient=col("global_orient", (3,)), transl=col("transl", (3,)), hand_pose=col("hand_pose", (45,)),
        keypoints=col("keypoints", (21, 3)), kind=np.array([r["kind"] for r in records], dtype="<U16"),
        digits_in_contact=np.array([[d in r["digits_in_contact"] for d in DIGITS] for r in records],
                                   dtype=bool).reshape(g, 5),
        skipped_id=np.array([s[0] for s in skipped], dtype="<U64"),
        skipped_reason=np.array([s[1] for s in skipped], dtype="<U512"),
        stats=np.array(json.dumps(stats)), seed=np.array(seed),
        on_hold_part=np.array([r.get("on_hold_part", -1) for r in records], dtype=np.int8),
        source=np.array([r.get("source", "optimiser") for r in records], dtype="<U16"),
        betas=np.array([r.get("betas", np.zeros(10)) for r in records], dtype=np.float32).reshape(g, 10),
        **{k: col(k) for k in _FLOAT_KEYS},
    )
    atomic_write(path, write=lambda tmp: np.savez_compressed(tmp, **arrays))


def load_grasps(root) -> dict:
    """All shards of a dataset folder (or of several: a list) concatenated (arrays as in the table) plus `stats`."""
    if not isinstance(root, (str, os.PathLike)):
        parts = [load_grasps(r) for r in root]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "stats"}
        out["stats"] = [s for p in parts for s in p["stats"]]
        return out
    shards = sorted(s for s in Path(root, "shards").glob("shard_*.npz") if not s.name.endswith(".tmp.npz"))
    if not shards:
        raise FileNotFoundError(f"no grasp shards in {Path(root, 'shards')}")
    parts, stats = [], []
    for shard in shards:
        with np.load(shard, allow_pickle=False) as z:
            if int(z["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"{shard}: format version {int(z['format_version'])}, expected {FORMAT_VERSION}")
            part = {k: z[k] for k in z.files if k not in ("stats", "seed", "format_version")}
            part.setdefault("on_hold_part", np.full(len(part["object_id"]), -1, dtype=np.int8))  # older shards
            part.setdefault("source", np.full(len(part["object_id"]), "optimiser", dtype="<U16"))
            part.setdefault("betas", np.zeros((len(part["object_id"]), 10), dtype=np.float32))
            parts.append(part)
            stats += json.loads(str(z["stats"]))
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["stats"] = stats
    return out


def select_grasps(grasps: dict, keep) -> dict:
    """The grasps of a ``load_grasps`` result where ``keep`` ((G,) bool or indices) selects; the skipped objects and
    the per-object stats stay whole."""
    return {k: v if k in _NOT_PER_GRASP else v[keep] for k, v in grasps.items()}
