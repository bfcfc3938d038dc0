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
FILE = "critic.npz"
PENETRATION_WEIGHT = 15.0  # per metre of depth in ``choice_scores``: as the refiner's SELECT_PENETRATION
FEATURE_NAMES = (
    ["depth_cm", "inside_share"]
    + [f"touch_share_{int(g * 1000)}mm" for g in GAPS]
    + [f"blocked_{int(g * 1000)}mm_{a}" for g in GAPS for a in ALIGNMENTS]
    + [f"touch_{r}" for r in ("thumb", "index", "middle", "ring", "pinky", "palm")]
    + ["normal_balance", "spread_1_cm", "spread_2_cm", "spread_3_cm", "size_1_cm", "size_2_cm", "size_3_cm",
       "centroid_offset"]
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
    columns.append(np.where(weights.sum(axis=1) > 0, offset, 1.0))
    return np.stack(columns, axis=1)


def critic_regions(hand_data) -> list[np.ndarray]:
    """Vertex ids of the five digits (``finger_vertex_ids``) and the palm's pad (``palmar_pads``)."""
    from .hand.regions import finger_vertex_ids, palmar_pads

    fingers = finger_vertex_ids(hand_data)
    return [fingers[name] for name in ("thumb", "index", "middle", "ring", "pinky")] + [palmar_pads(hand_data)[0]]


class Critic:
    """A fitted critic: standardised features -> MLP (ReLU) -> logit of "held". ``layers``: [(W, b), ...]."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, layers: list, info: dict | None = None):
        self.mean, self.std, self.layers, self.info = mean, std, layers, info or {}

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.std
        for k, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if k < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(G,) probability that each grasp holds (six-direction displacement <= ``HELD_CM``)."""
        return 1.0 / (1.0 + np.exp(-self.logits(features)))

    def choice_scores(self, vertices: np.ndarray, surface, regions: list[np.ndarray],
                      depth: np.ndarray | None = None, signed=None) -> np.ndarray:
        """(G,) what the pipeline chooses candidates by, higher is better: the probability of holding minus
        ``PENETRATION_WEIGHT`` per metre of ``depth`` (G,) (the pipeline passes ``GraspRefiner.depths``, which
        also sees the object inside the hand; default: the deepest vertex), as the refiner's choice weighs it.
        ``signed``: as in ``grasp_features``."""
        features = grasp_features(vertices, surface, regions, signed)
        if depth is None:
            depth = features[:, FEATURE_NAMES.index("depth_cm")] / 100.0
        return self(features) - PENETRATION_WEIGHT * depth

    def save(self, path) -> None:
        arrays = {"mean": self.mean, "std": self.std}
        for k, (w, b) in enumerate(self.layers):
            arrays[f"w{k}"], arrays[f"b{k}"] = w, b
        write_npz(path, {"features": list(FEATURE_NAMES), "layers": len(self.layers)}, arrays, self.info)

    @classmethod
    def load(cls, path) -> "Critic":
        config, arrays, info = read_npz(path)
        if list(config.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError(f"{path} was fitted on other features than this version computes")
        layers = [(arrays[f"w{k}"].astype(np.float64), arrays[f"b{k}"].astype(np.float64))
                  for k in range(int(config["layers"]))]
        return cls(arrays["mean"].astype(np.float64), arrays["std"].astype(np.float64), layers, info)


def load_critic(weights_dir: str | os.PathLike) -> Critic | None:
    """The critic beside a model's weights (``<weights_dir>/critic.npz``), or None where there is none."""
    path = Path(weights_dir) / FILE
    return Critic.load(path) if path.is_file() else None
