"""Steering a grasp: where on the object the hand holds it, from which side it comes, what kind of grasp it is.

A ``Steering`` names any of three wishes, all in the object's frame (metres):

* ``near`` (3,): a point on (or near) the object the hand should hold: the centroid of the hand's contact with
  the object should lie close to it (``jhod sample --near X,Y,Z``; the add-on's 3D cursor or selected faces);
* ``approach`` (3,): the direction the hand moves in as it reaches the object, i.e. where the palm faces
  (``--approach 0,0,-1``: from above, palm down; the add-on's "from the current view");
* ``grasp_type``: ``power`` (the palm touches: a wrap), ``precision`` (three or more digits, no palm) or
  ``pinch`` (two digits, no palm); refinement keeps the asked type, a pinch with thumb and index
  (``refine.TYPE_CLEARANCE``).

Every model can be steered by choice: the pipeline samples ``POOL`` times as many grasps as asked and keeps those
that best meet the wishes (``choose``). A model trained with controls (``DenoiserConfig.controls``) is also told the
wishes (``Steering.controls``, the ``spec.CONTROL_DIM`` layout), and then chooses among fewer samples
(``CONTROLLED_POOL``). The measures (``measure_grasps``: contact centroid, palm direction, grasp type) are the
training labels of those controls and what the benchmarks report. NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import JHODError

GRASP_TYPES = ("power", "precision", "pinch")
POOL = 6  # grasps sampled per grasp kept when steering by choice alone
# ... and when the model is told the wishes too: on 12 everyday validation objects the network alone (pool 1) met
# them to 2.9 cm / 14 deg, choosing among 2 to 1.7 cm / 10 deg at 0.16 s per grasp (docs/eval/model_v2)
CONTROLLED_POOL = 2
CONTACT_GAP = 0.003  # metres: hand vertices this close to the surface (or inside) touch it
NEAR_SCALE = 0.02  # metres of contact-centroid distance that cost as much as...
ANGLE_SCALE = 30.0  # ...this many degrees between the palm and the approach, or...
TYPE_COST = 1.5  # ...a grasp of another type


@dataclass(frozen=True)
class Steering:
    near: tuple | None = None
    approach: tuple | None = None
    grasp_type: str | None = None

    def __post_init__(self):
        if self.near is not None:
            near = np.asarray(self.near, dtype=np.float64).reshape(-1)
            if near.shape != (3,) or not np.isfinite(near).all():
                raise JHODError(f"the target point must be three finite numbers (metres), got {self.near!r}")
            object.__setattr__(self, "near", tuple(near.tolist()))
        if self.approach is not None:
            approach = np.asarray(self.approach, dtype=np.float64).reshape(-1)
            if approach.shape != (3,) or not np.isfinite(approach).all() or np.linalg.norm(approach) < 1e-9:
                raise JHODError(f"the approach direction must be three finite numbers, not all zero, got "
                                f"{self.approach!r}")
            object.__setattr__(self, "approach", tuple((approach / np.linalg.norm(approach)).tolist()))
        if self.grasp_type is not None and self.grasp_type not in GRASP_TYPES:
            raise JHODError(f"the grasp type must be one of {', '.join(GRASP_TYPES)}, got {self.grasp_type!r}")

    @property
    def active(self) -> bool:
        return self.near is not None or self.approach is not None or self.grasp_type is not None

    def controls(self, centre: np.ndarray, flip: np.ndarray | None = None) -> np.ndarray:
        """The wishes as one ``spec.CONTROL_DIM`` row in the sampling frame: mirrored by ``flip`` (x -> -x for
        left hands), then the object's bounding-box centre ``centre`` (sampling frame) subtracted from ``near``."""
        flip = np.ones(3) if flip is None else np.asarray(flip, dtype=np.float64)
        near = None if self.near is None else (np.asarray(self.near) * flip - centre)[None]
        approach = None if self.approach is None else (np.asarray(self.approach) * flip)[None]
        kind = None if self.grasp_type is None else np.array([GRASP_TYPES.index(self.grasp_type)])
        return control_vectors(1, near, approach, kind)[0]

    def mirrored(self, mirror: np.ndarray) -> "Steering":
        """The same wishes in a mirrored frame (x -> -x: left hands are sampled as right hands)."""
        return Steering(None if self.near is None else tuple(np.asarray(self.near) * mirror),
                        None if self.approach is None else tuple(np.asarray(self.approach) * mirror),
                        self.grasp_type)


def control_vectors(rows: int, near=None, approach=None, type_index=None) -> np.ndarray:
    """(rows, ``spec.CONTROL_DIM``) float32 controls: ``near`` (rows, 3) metres in the centred sampling frame and
    ``approach`` (rows, 3) directions (a row with NaN: not given), ``type_index`` (rows,) into ``GRASP_TYPES``
    (-1: not given); None: that control is given for no row."""
    from .model import spec

    out = np.zeros((rows, spec.CONTROL_DIM), dtype=np.float32)
    near_at, approach_at, type_at = spec.CONTROL_NEAR.start, spec.CONTROL_APPROACH.start, spec.CONTROL_TYPE.start
    if near is not None:
        near = np.broadcast_to(np.asarray(near, dtype=np.float64), (rows, 3))
        on = np.isfinite(near).all(1)
        out[on, near_at:near_at + 3], out[on, near_at + 3] = near[on] * spec.CONTROL_SCALE, 1.0
    if approach is not None:
        approach = np.broadcast_to(np.asarray(approach, dtype=np.float64), (rows, 3))
        on = np.isfinite(approach).all(1) & (np.linalg.norm(np.nan_to_num(approach), axis=1) > 1e-9)
        unit = approach[on] / np.linalg.norm(approach[on], axis=1, keepdims=True)
        out[on, approach_at:approach_at + 3], out[on, approach_at + 3] = unit, 1.0
    if type_index is not None:
        type_index = np.broadcast_to(np.asarray(type_index, dtype=np.int64), (rows,))
        on = type_index >= 0
        out[np.flatnonzero(on), type_at + type_index[on]] = 1.0
        out[on, type_at + len(GRASP_TYPES)] = 1.0
    return out


def parse_vector(text: str, what: str) -> tuple[float, float, float]:
    """``"x,y,z"`` -> three floats; JHODError with one clear sentence otherwise."""
    try:
        values = tuple(float(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not np.isfinite(values).all():
        raise JHODError(f"{what} must be three comma-separated numbers like 0.01,0,0.05, got {text!r}")
    return values


def touching(vertices: np.ndarray, surface) -> np.ndarray:
    """(G, V) bool: hand vertices within ``CONTACT_GAP`` of the surface or inside it (``refine.ObjectSurface``)."""
    g, v, _ = vertices.shape
    sd, _ = surface.signed_distance(vertices.reshape(-1, 3))
    return (sd <= CONTACT_GAP).reshape(g, v)


def contact_centroids(vertices: np.ndarray, contact: np.ndarray) -> np.ndarray:
    """(G, 3) mean of each hand's touching vertices; NaN for a hand that touches nothing."""
    count = contact.sum(1)
    total = np.einsum("gv,gvc->gc", contact.astype(np.float64), vertices)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[:, None] > 0, total / count[:, None], np.nan)


def palm_directions(keypoints: np.ndarray, side: str = "right") -> np.ndarray:
    """(G, 3) unit normals of the palm, pointing out of the palm (where the fingers close), from the wrist and the
    index and little-finger knuckles (keypoints 0, 5, 17)."""
    k = np.asarray(keypoints, dtype=np.float64)
    n = np.cross(k[:, 5] - k[:, 0], k[:, 17] - k[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n if side == "right" else -n


def grasp_types(contact: np.ndarray, digit_vertices: dict, palm_vertices: np.ndarray) -> np.ndarray:
    """(G,) grasp type of each hand from its contact pattern: ``power`` when the palm touches, ``pinch`` with two
    digits or fewer (and no palm), else ``precision``. ``digit_vertices``: digit name -> vertex ids."""
    digits = np.stack([contact[:, ids].any(1) for ids in digit_vertices.values()], 1).sum(1)
    palm = contact[:, palm_vertices].any(1)
    return np.where(palm, "power", np.where(digits <= 2, "pinch", "precision"))


def measure_grasps(vertices: np.ndarray, keypoints: np.ndarray, surface, hand_data, side: str = "right") -> dict:
    """What steering asks for, measured on grasps (G, V, 3) / (G, 21, 3) in the surface's frame: ``near`` (G, 3)
    contact centroid (NaN: touches nothing), ``approach`` (G, 3) palm direction, ``type`` (G,) grasp type."""
    from .hand.regions import finger_vertex_ids, palmar_pads

    vertices = np.asarray(vertices, dtype=np.float64)
    contact = touching(vertices, surface)
    return {"near": contact_centroids(vertices, contact), "approach": palm_directions(keypoints, side),
            "type": grasp_types(contact, finger_vertex_ids(hand_data), palmar_pads(hand_data)[0])}


def steering_costs(result: dict, surface, steering: Steering, hand_data, side: str = "right") -> dict:
    """Per grasp: ``cost`` (G,) (lower = closer to the wishes; nan-free) and the measures it is made of:
    ``near_m`` (distance of the contact centroid to the target), ``angle_deg`` (palm vs approach), ``type``."""
    measured = measure_grasps(result["vertices"], result["keypoints"], surface, hand_data, side)
    cost = np.zeros(len(measured["near"]))
    out = {}
    if steering.near is not None:
        # a hand touching nothing is measured by its palm centre: far from every target
        palm_centre = np.asarray(result["vertices"], dtype=np.float64).mean(1)
        centre = np.where(np.isnan(measured["near"]), palm_centre, measured["near"])
        out["near_m"] = np.linalg.norm(centre - np.asarray(steering.near), axis=1)
        cost += out["near_m"] / NEAR_SCALE
    if steering.approach is not None:
        cosine = measured["approach"] @ np.asarray(steering.approach)
        out["angle_deg"] = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
        cost += out["angle_deg"] / ANGLE_SCALE
    if steering.grasp_type is not None:
        out["type"] = measured["type"]
        cost += TYPE_COST * (out["type"] != steering.grasp_type)
    out["cost"] = cost
    return out


def choose(costs: np.ndarray, num: int) -> np.ndarray:
    """Indices of the ``num`` grasps with the lowest cost, in pool order (ties keep pool order: the refined
    candidate choice already put the better-holding grasps of each block first)."""
    return np.sort(np.argsort(np.asarray(costs), kind="stable")[:num])
