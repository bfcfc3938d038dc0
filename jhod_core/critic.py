"""A learned critic for choosing among refined candidates: will this hand hold this object in the simulation?

The refiner's ``scores`` count the pull directions a hand blocks (one hand-made number). The critic looks at more
of the hand-object contact (``grasp_features``: blocked directions at several gaps, depth, which digits touch,
whether the contacts oppose each other, how spread they are, the object's size) and maps it through a small
network fitted to the simulated outcomes of the model's own refined samples (``training/critic``): the probability
that the six-direction simulation displacement stays within ``HELD_CM`` (``--label held``), or that the grasp also
stays within the data engine's penetration and volume (``--label accepted``; its ``info["label"]`` says which).
NumPy only (Blender has no SciPy or torch): the weights are plain arrays in ``critic.npz`` next to the model's
weights; without that file the pipeline chooses by the refiner's score as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .model.weights_file import read_npz, write_npz

HELD_CM = 2.0  # the data engine's acceptance: six-direction mean displacement <= 2 cm
GAPS = (0.002, 0.004, 0.008)  # m: a vertex this close to the surface (or inside) touches it
ALIGNMENTS = (0.32, 0.6)  # n . g at which a touching vertex blocks a pull g (friction cone, firmer)
REGION_GAP = 0.004
# the shape of the part in the hand (spreads of the object's surface near the contact centroid, largest first, and
# the share of the surface there): a handle or a shaft, a blade's flat, a wall; what people hold an object by
LOCAL_FEATURES = ["local_1_cm", "local_2_cm", "local_3_cm", "local_share"]
LOCAL_RADIUS = 0.03  # m: the object's surface within this of the contact centroid is the part in the hand
FILE = "critic.npz"
PENETRATION_WEIGHT = 15.0  # per metre of depth in ``choice_scores``: as the refiner's SELECT_PENETRATION
FEATURE_NAMES = (
    ["depth_cm", "inside_share"]
    + [f"touch_share_{int(g * 1000)}mm" for g in GAPS]
    + [f"blocked_{int(g * 1000)}mm_{a}" for g in GAPS for a in ALIGNMENTS]
    + [f"touch_{r}" for r in ("thumb", "index", "middle", "ring", "pinky", "palm")]
    + ["normal_balance", "spread_1_cm", "spread_2_cm", "spread_3_cm", "size_1_cm", "size_2_cm", "size_3_cm",
       "centroid_offset"]
    + LOCAL_FEATURES
)


def grasp_features(vertices: np.ndarray, surface, regions: list[np.ndarray], signed=None) -> np.ndarray:
    """(G, len(FEATURE_NAMES)) features of hands ``vertices`` (G, V, 3) against an ``refine.ObjectSurface`` (same
    frame, metres). ``regions``: vertex ids of thumb, index, middle, ring, pinky and palm (``critic_regions``).
    ``signed``: ``surface.signed_distance(vertices)`` where the caller has it already."""
    from .refine import PULL_DIRECTIONS

    vertices = np.asarray(vertices, dtype=np.float64)
    sd, normal = surface.signed_distance(vertices) if signed is None else signed
    columns = [np.maximum(-sd.min(axis=1), 0.0) * 100, (sd < 0).mean(axis=1)]
    columns += [(sd <= gap).mean(axis=1) for gap in GAPS]
    # per gap and pull direction the best blocking vertex, over the few vertices within the widest gap
    hand, vertex = np.nonzero(sd <= max(GAPS))
    dots = normal[hand, vertex] @ PULL_DIRECTIONS.T  # (touching, 26)
    for gap in GAPS:
        reach = np.full((len(sd), len(PULL_DIRECTIONS)), -np.inf)  # (G, 26)
        within = sd[hand, vertex] <= gap
        np.maximum.at(reach, hand[within], dots[within])
        columns += [(reach >= a).mean(axis=1) for a in ALIGNMENTS]
    touch = sd <= REGION_GAP
    columns += [touch[:, ids].any(axis=1).astype(np.float64) for ids in regions]
    weights = touch.astype(np.float64)
    count = np.maximum(weights.sum(axis=1), 1.0)
    # 1: all contact normals point one way (nothing opposes the push), 0: they cancel (opposed contacts)
    columns.append(np.linalg.norm(np.einsum("gv,gvc->gc", weights, normal), axis=1) / count)
    centroid = np.einsum("gv,gvc->gc", weights, vertices) / count[:, None]
    offsets = (vertices - centroid[:, None]) * weights[..., None]
    cov = np.einsum("gvi,gvj->gij", offsets, offsets) / count[:, None, None]
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh(cov)[:, ::-1], 0.0)) * 100
    columns += list(spread.T)
    points = np.asarray(surface.points, dtype=np.float64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = np.sort(hi - lo)[::-1] * 100
    columns += [np.full(len(vertices), s) for s in size]
    offset = np.linalg.norm(centroid - (lo + hi) / 2, axis=1) / max(np.linalg.norm(hi - lo), 1e-9)
    touching = weights.sum(axis=1) > 0
    columns.append(np.where(touching, offset, 1.0))
    columns += list(_local_shape(points, centroid, touching).T)
    return np.stack(columns, axis=1)


def _local_shape(points: np.ndarray, centres: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(G, 4): the spreads (cm, largest first) of the ``points`` within ``LOCAL_RADIUS`` of each of ``centres``
    (G, 3), and their share of all points; zeros where not ``valid`` (no contact) or no point is that near."""
    origin = points.mean(axis=0)  # moments about a point near the surface keep the float32 products exact enough
    pts, ctr = (points - origin).astype(np.float32), (centres - origin).astype(np.float32)
    d2 = (ctr * ctr).sum(axis=1)[:, None] + (pts * pts).sum(axis=1)[None] - 2.0 * (ctr @ pts.T)  # one product
    near = (d2 <= LOCAL_RADIUS ** 2).astype(np.float32)
    moments = near @ np.concatenate([pts, (pts[:, :, None] * pts[:, None, :]).reshape(len(pts), 9)], axis=1)
    count = near.sum(axis=1).astype(np.float64)
    safe = np.maximum(count, 1.0)[:, None]
    mean, second = moments[:, :3] / safe, (moments[:, 3:] / safe).reshape(-1, 3, 3)
    cov = second - mean[:, :, None] * mean[:, None, :]
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh(cov)[:, ::-1], 0.0)) * 100
    out = np.concatenate([spread, (count / max(len(points), 1))[:, None]], axis=1)
    out[~valid | (count == 0)] = 0.0
    return out


def critic_regions(hand_data) -> list[np.ndarray]:
    """Vertex ids of the five digits (``finger_vertex_ids``) and the palm's pad (``palmar_pads``)."""
    from .hand.regions import finger_vertex_ids, palmar_pads

    fingers = finger_vertex_ids(hand_data)
    return [fingers[name] for name in ("thumb", "index", "middle", "ring", "pinky")] + [palmar_pads(hand_data)[0]]


class TreeEnsemble:
    """Gradient-boosted regression trees as plain arrays: logit = ``baseline`` + the sum over trees of the value of
    the leaf each row reaches (``x[feature] <= threshold`` goes left). ``feature``, ``threshold``, ``left``,
    ``right``, ``value``: (trees, nodes), a leaf has ``left`` -1; ``depth``: the deepest leaf's depth."""

    def __init__(self, feature, threshold, left, right, value, baseline: float, depth: int):
        self.feature, self.left, self.right = (np.asarray(a, dtype=np.int64) for a in (feature, left, right))
        self.threshold, self.value = np.asarray(threshold, np.float64), np.asarray(value, np.float64)
        self.baseline, self.depth = float(baseline), int(depth)

    def logits(self, x: np.ndarray) -> np.ndarray:
        trees, rows = np.arange(len(self.feature))[:, None], np.arange(len(x))[None]
        node = np.zeros((len(self.feature), len(x)), dtype=np.int64)
        for _ in range(self.depth):
            at = (trees, node)
            left = self.left[at]
            step = np.where(x[rows, self.feature[at]] <= self.threshold[at], left, self.right[at])
            node = np.where(left < 0, node, step)
        return self.baseline + self.value[trees, node].sum(axis=0)

    FIELDS = ("feature", "threshold", "left", "right", "value")  # the arrays, in the constructor's order

    def arrays(self, prefix: str) -> dict:
        return {f"{prefix}{k}": getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str, baseline: float, depth: int) -> "TreeEnsemble":
        return cls(*(arrays[f"{prefix}{k}"] for k in cls.FIELDS), baseline, depth)


class Critic:
    """A fitted critic: standardised features -> MLP (ReLU) -> logit of "held". ``layers``: [(W, b), ...].
    ``features``: the names (of ``FEATURE_NAMES``) it was fitted on, in order; it takes all of ``grasp_features``
    and picks those, so a critic fitted before a feature was added still loads.

    ``part`` (optional): trees (``TreeEnsemble``, on ``part_features``, unstandardised) giving the probability that
    the hand holds the object where people do (on a knife's handle, not its blade; on an object without such a
    part, anywhere), added to the choice with ``part_weight``: the candidate that holds the handle wins over one
    that pinches the blade and holds as well in the simulation."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, layers: list, info: dict | None = None,
                 features=FEATURE_NAMES, part: TreeEnsemble | None = None, part_weight: float = 0.0,
                 part_features=FEATURE_NAMES):
        unknown = sorted((set(features) | set(part_features if part is not None else ())) - set(FEATURE_NAMES))
        if unknown:
            raise ValueError(f"the critic was fitted on features this version does not compute: {', '.join(unknown)}")
        self.mean, self.std, self.layers, self.info = mean, std, layers, info or {}
        self.features = tuple(features)
        self.columns = np.array([FEATURE_NAMES.index(n) for n in self.features], dtype=np.int64)
        self.part, self.part_weight = part, float(part_weight)
        self.part_features = tuple(part_features)
        self.part_columns = np.array([FEATURE_NAMES.index(n) for n in self.part_features], dtype=np.int64)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(G,) logits from ``grasp_features`` (G, len(FEATURE_NAMES))."""
        x = (np.asarray(features, dtype=np.float64)[:, self.columns] - self.mean) / self.std
        for k, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if k < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(G,) probability that each grasp holds (six-direction displacement <= ``HELD_CM``)."""
        return 1.0 / (1.0 + np.exp(-self.logits(features)))

    def on_part(self, features: np.ndarray) -> np.ndarray:
        """(G,) probability that each grasp holds the object where people do; ones without a ``part`` head."""
        if self.part is None:
            return np.ones(len(features))
        x = np.asarray(features, dtype=np.float64)[:, self.part_columns].astype(np.float32)  # as they were fitted
        return 1.0 / (1.0 + np.exp(-self.part.logits(x)))

    def choice_scores(self, vertices: np.ndarray, surface, regions: list[np.ndarray],
                      depth: np.ndarray | None = None, signed=None) -> np.ndarray:
        """(G,) what the pipeline chooses candidates by, higher is better: the probability of holding, plus
        ``part_weight`` times that of holding where people do, minus ``PENETRATION_WEIGHT`` per metre of ``depth``
        (G,) (the pipeline passes ``GraspRefiner.depths``, which also sees the object inside the hand; default: the
        deepest vertex), as the refiner's choice weighs it. ``signed``: as in ``grasp_features``."""
        features = grasp_features(vertices, surface, regions, signed)
        return self.scores(features, depth)

    def scores(self, features: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
        """``choice_scores`` from ``grasp_features`` already computed."""
        if depth is None:
            depth = features[:, FEATURE_NAMES.index("depth_cm")] / 100.0
        part = self.part_weight * self.on_part(features) if self.part is not None else 0.0
        return self(features) + part - PENETRATION_WEIGHT * depth

    def save(self, path) -> None:
        arrays = {"mean": self.mean, "std": self.std}
        for k, (w, b) in enumerate(self.layers):
            arrays[f"w{k}"], arrays[f"b{k}"] = w, b
        config = {"features": list(self.features), "layers": len(self.layers)}
        if self.part is not None:
            arrays.update(self.part.arrays("part_"))
            config.update(part_baseline=self.part.baseline, part_depth=self.part.depth, part_weight=self.part_weight,
                          part_features=list(self.part_features))
        write_npz(path, config, arrays, self.info)

    @classmethod
    def load(cls, path) -> "Critic":
        config, arrays, info = read_npz(path)
        layers = [(arrays[f"w{k}"].astype(np.float64), arrays[f"b{k}"].astype(np.float64))
                  for k in range(int(config["layers"]))]
        part = None
        if "part_baseline" in config:
            part = TreeEnsemble.from_arrays(arrays, "part_", config["part_baseline"], config["part_depth"])
        try:
            return cls(arrays["mean"].astype(np.float64), arrays["std"].astype(np.float64), layers, info,
                       config.get("features", []), part, config.get("part_weight", 0.0),
                       config.get("part_features", FEATURE_NAMES))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


def load_critic(weights_dir: str | os.PathLike) -> Critic | None:
    """The critic beside a model's weights (``<weights_dir>/critic.npz``), or None where there is none."""
    path = Path(weights_dir) / FILE
    return Critic.load(path) if path.is_file() else None
