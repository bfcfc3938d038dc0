"""Training data: the grasp dataset (shards in ``jhod_core.io.grasp_shards``) as (object points, hand params) pairs."""

from __future__ import annotations

import numpy as np

from jhod_core.hand.params import join_params
from jhod_core.io.grasp_shards import DIGITS, FORMAT_VERSION, load_grasps, save_shard  # noqa: F401  (re-exported)


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
