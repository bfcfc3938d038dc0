"""Training data: the grasp dataset (shards in ``jhod_core.io.grasp_shards``) as (object points, hand params) pairs."""

from __future__ import annotations

import numpy as np

from jhod_core.hand.params import join_params
from jhod_core.io.grasp_shards import (  # noqa: F401  (re-exported)
    DIGITS, FORMAT_VERSION, SOURCES, load_grasps, save_shard, select_grasps)


UPRIGHT_SOURCE = "training.data.everyday"  # objects of these generators stand along +z (docs/object_corpus.md)
VERTICAL = 0.7  # |z| of the palm's unit normal above which a palm faces up or down


def palms_up_or_down(keypoints: np.ndarray) -> np.ndarray:
    """(G,) bool: the palm (``steering.palm_directions``) faces up or down, |z| > VERTICAL; a hand on a cap or an
    end of an upright object. Normals uniform on the sphere give 1 - VERTICAL = 30 %."""
    from jhod_core.steering import palm_directions

    return np.abs(palm_directions(keypoints)[:, 2]) > VERTICAL


def balance_palms(grasps: dict, manifest: dict, seed: int = 0) -> np.ndarray:
    """(G,) bool, the grasps to keep: per family of upright objects, model-proposed hands with the palm up or down
    (``palms_up_or_down``) are dropped at random until their share among that family's model-proposed hands is
    the optimiser's share on the same family. The model's habit of caps and ends otherwise feeds back through
    the bootstrap (docs/data_engine.md, "Which way the palms face"); its other grasps are kept, since leaving them
    all out lost holding on new kinds of objects (docs/model.md, v9). ``manifest``: object id -> manifest row."""
    keep = np.ones(len(grasps["object_id"]), dtype=bool)
    vertical = palms_up_or_down(grasps["keypoints"])
    family = np.array([manifest[str(o)]["family"] if str(o) in manifest
                       and manifest[str(o)]["source"].startswith(UPRIGHT_SOURCE) else "" for o in grasps["object_id"]])
    optimiser, model = grasps["source"] == "optimiser", grasps["source"] == "model"
    rng = np.random.default_rng([seed, 7])
    for f in sorted(set(family) - {""}):
        ours = family == f
        if not (ours & optimiser).any():
            continue
        share = vertical[ours & optimiser].mean()
        up, side = np.flatnonzero(ours & model & vertical), int((ours & model & ~vertical).sum())
        allowed = len(up) if share >= 1.0 else int(round(share * side / (1.0 - share)))  # up / (up + side) = share
        if len(up) > allowed:
            keep[rng.choice(up, len(up) - allowed, replace=False)] = False
    return keep


def hand_params(grasps: dict) -> np.ndarray:
    """(G, 51) MANO parameters: 3 global orient + 45 finger pose + 3 translation."""
    return join_params(grasps["global_orient"], grasps["hand_pose"], grasps["transl"])


class GraspDataset:
    """(object points, hand params) pairs plus object-only samples, for training.

    `object_points`: (ids, points (N, P, 3)) from the object corpus. Grasps whose object is missing
    from it are dropped. `split_ids` restricts both grasps and object-only samples to a split.
    """

    def __init__(self, grasps: dict, object_ids: np.ndarray, object_points: np.ndarray,
                 split_ids: set[str] | None = None):
        index = {str(i): k for k, i in enumerate(object_ids)}
        keep = np.array([str(o) in index and (split_ids is None or str(o) in split_ids)
                         for o in grasps["object_id"]], dtype=bool)
        self.object_index = np.array([index[str(o)] for o in grasps["object_id"][keep]], dtype=np.int64)
        self.params = hand_params({k: grasps[k][keep] for k in ("global_orient", "hand_pose", "transl")})
        self.keypoints = grasps["keypoints"][keep]
        self.points = object_points
        only = [k for k, i in enumerate(object_ids) if split_ids is None or str(i) in split_ids]
        self.object_only_index = np.array(only, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.points[self.object_index[i]].astype(np.float32), self.params[i].astype(np.float32)

    def object_only(self, i: int) -> np.ndarray:
        return self.points[self.object_only_index[i]].astype(np.float32)

    def sample_batch(self, rng: np.random.Generator, batch: int, object_only: int = 0):
        """Random (points (B, P, 3), params (B, 51)) and `object_only` extra object clouds."""
        idx = rng.integers(0, len(self), batch)
        pts = self.points[self.object_index[idx]].astype(np.float32)
        extra = self.points[self.object_only_index[rng.integers(0, len(self.object_only_index), object_only)]]
        return pts, self.params[idx].astype(np.float32), extra.astype(np.float32)


def grasp_controls(ds: GraspDataset, normals: np.ndarray, batch: int = 256) -> dict:
    """What each grasp of ``ds`` would be asked for as controls (``jhod_core.steering.measure_grasps``, corpus
    frame): ``near`` (G, 3) contact centroid (NaN: touches nothing), ``approach`` (G, 3) palm direction,
    ``type_index`` (G,) into ``GRASP_TYPES``. ``normals``: the corpus normals, row for row with ``ds.points``."""
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from jhod_core.refine import ObjectSurface
    from jhod_core.steering import GRASP_TYPES, measure_grasps

    data = load_hand_data(None, "right")
    g = len(ds)
    out = {"near": np.full((g, 3), np.nan), "approach": np.zeros((g, 3)), "type_index": np.full(g, -1, np.int64)}
    for obj in np.unique(ds.object_index):
        surface = ObjectSurface.from_points(ds.points[obj].astype(np.float64), normals[obj].astype(np.float64))
        rows = np.flatnonzero(ds.object_index == obj)
        for i in range(0, len(rows), batch):
            sel = rows[i:i + batch]
            vertices, _, keypoints = numpy_forward(data, *split_params(ds.params[sel].astype(np.float64)))
            m = measure_grasps(vertices, keypoints, surface, data)
            out["near"][sel], out["approach"][sel] = m["near"], m["approach"]
            out["type_index"][sel] = [GRASP_TYPES.index(t) for t in m["type"]]
    return out
