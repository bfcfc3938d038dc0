"""Which synthesized grasps are kept: the foundation metrics, cheapest test first.

Thresholds (issue "synthetic data engine"): penetration depth <= 0.5 cm, intersection volume
<= 3 cm^3, at least three digits touching (thumb counts as a digit), mean simulation displacement
over the six gravity directions <= 2 cm, anatomical limits respected (within a 5 degree
tolerance, the optimiser's soft constraint). One addition (December 2026): a pinch, thumb and index alone, is
accepted with two digits when it passes the same simulation: without it the data held 2 pinches in 7000 grasps and
the model could not learn ``--type pinch`` (docs/eval/pinch_synthesis.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import trimesh

from jhod_core import metrics
from jhod_core.geometry.inside import signed_distance
from jhod_core.hand.joint_limits import limit_violation
from training.data.corpus import load_hold_faces


@dataclass(frozen=True)
class Thresholds:
    penetration_cm: float = 0.5
    volume_cm3: float = 3.0
    min_digits: int = 3
    pinch: tuple = ("thumb", "index")  # these digits alone also count (a pinch); () for the three-digit rule only
    sim_6dir_cm: float = 2.0
    limit_tolerance_deg: float = 5.0


def check_grasp(obj_mesh: trimesh.Trimesh, hand_verts: np.ndarray, hand_faces: np.ndarray, hand_pose: np.ndarray,
                frames: np.ndarray, fingers: dict, thr: Thresholds = Thresholds(), cache=None,
                sdf=None) -> tuple[dict, str]:
    """(metrics, reason): reason is "" when the grasp is accepted, else the first failed test.

    ``sdf`` (optional, the optimiser's ``SDFGrid`` of the object): skips the exact inside tests of the intersection
    volume where the grid says a point is certainly outside (same volume, less time).

    `metrics` also carries `seconds_checks`, `seconds_simulation`, `seconds_volume` (where time goes).
    """
    t = time.perf_counter()
    out = {"seconds_checks": 0.0, "seconds_simulation": 0.0, "seconds_volume": 0.0}
    result = _check(obj_mesh, hand_verts, hand_faces, hand_pose, frames, fingers, thr, cache, out, sdf)
    out["seconds_checks"] = time.perf_counter() - t - out["seconds_simulation"] - out["seconds_volume"]
    return out, result


def _check(obj_mesh, hand_verts, hand_faces, hand_pose, frames, fingers, thr, cache, out, sdf=None) -> str:
    out["limit_violation_deg"] = float(np.rad2deg(limit_violation(hand_pose, frames).max()))
    if out["limit_violation_deg"] > thr.limit_tolerance_deg:
        return "joint limits"
    signed = signed_distance(obj_mesh, hand_verts)
    out["penetration_depth_cm"] = metrics.depth_cm_from_signed(signed)
    if out["penetration_depth_cm"] > thr.penetration_cm:
        return "penetration"
    touching = metrics.touching_from_signed(signed, metrics.CONTACT_THRESHOLD)
    digits = [name for name, ids in fingers.items() if touching[ids].any()]
    out["digits_in_contact"] = digits
    if not enough_digits(digits, thr):
        return "too few digits in contact"
    hand_mesh = trimesh.Trimesh(hand_verts, hand_faces, process=False)
    # simulation before volume: it rejects more and costs less
    t = time.perf_counter()
    out["sim_displacement_6dir_cm"] = metrics.simulation_displacement_6dir(obj_mesh, hand_mesh, cache=cache,
                                                                          stop_above=thr.sim_6dir_cm)
    out["seconds_simulation"] = time.perf_counter() - t
    if out["sim_displacement_6dir_cm"] > thr.sim_6dir_cm:
        return "simulation"
    t = time.perf_counter()
    out["intersection_volume_cm3"] = metrics.intersection_volume(
        obj_mesh, hand_mesh, may_be_inside=None if sdf is None else sdf.may_be_inside)
    out["seconds_volume"] = time.perf_counter() - t
    if out["intersection_volume_cm3"] > thr.volume_cm3:
        return "intersection volume"
    return ""


def enough_digits(digits: list[str], thr: Thresholds = Thresholds()) -> bool:
    """At least ``thr.min_digits`` digits touch, or exactly the pinch's."""
    return len(digits) >= thr.min_digits or bool(thr.pinch and set(digits) == set(thr.pinch))


def accepted(measured: dict, digits: list[str], thr: Thresholds = Thresholds()) -> bool | None:
    """Whether a grasp measured in full (an evaluation row: ``limit_violation_deg``, ``penetration_depth_cm``,
    ``sim_displacement_6dir_cm``, ``intersection_volume_cm3``; ``digits`` touching) passes the data engine's
    acceptance; None without the simulation."""
    if measured.get("sim_displacement_6dir_cm") is None:
        return None
    return bool(measured["limit_violation_deg"] <= thr.limit_tolerance_deg
                and measured["penetration_depth_cm"] <= thr.penetration_cm and enough_digits(digits, thr)
                and measured["sim_displacement_6dir_cm"] <= thr.sim_6dir_cm
                and measured["intersection_volume_cm3"] <= thr.volume_cm3)


CONTACT_GAP_M = 0.002  # hand vertices this close to the surface (or inside) count as contact
# At most this share of an object's accepted grasps may hold it off its hold parts: people hold a knife by its handle
# and a pan by its handle, and the rest of the data may show other holds, never mostly blade-first (issue #15: >= 70 %
# on a hold part per family).
OFF_HOLD_SHARE = 0.25
OFF_HOLD_REASON = "off the hold part"  # the rejection reason in the shards' stats


def part_to_prefer(hold_faces) -> np.ndarray | None:
    """``hold_faces`` ((F,) bool, or None) when they mark a part to prefer, i.e. some faces but not all; else None.
    Not a share of faces: a knife's handle has 91 % of its faces (a fine mesh) and a third to two thirds of its area."""
    if hold_faces is None:
        return None
    hold_faces = np.asarray(hold_faces, dtype=bool)
    return hold_faces if hold_faces.any() and not hold_faces.all() else None


def object_part_to_prefer(root, object_id: str) -> np.ndarray | None:
    """The part to prefer of a corpus object (``part_to_prefer`` of its stored hold labels), or None."""
    return part_to_prefer(load_hold_faces(root, object_id))


def off_hold_allowed(on_hold: list[int]) -> bool:
    """Whether one more grasp off the hold parts, after an object's accepted grasps ``on_hold`` (1 on a hold part,
    0 off), keeps those off them at most ``OFF_HOLD_SHARE`` of the object's grasps at every count."""
    off = sum(1 for h in on_hold if h == 0)
    return off + 1 <= OFF_HOLD_SHARE * (len(on_hold) + 1)


def contact_on_hold_part(mesh, hand_vertices: np.ndarray, hold_faces: np.ndarray) -> bool:
    """Whether the centroid of the hand's contact vertices lies on a part people hold: the face nearest to it
    belongs to a hold part (``hold_faces`` (F,) bool). No contact: False."""
    _, distance, _ = trimesh.proximity.closest_point(mesh, hand_vertices)
    inside = mesh.contains(hand_vertices) if mesh.is_watertight else np.zeros(len(hand_vertices), bool)
    contact = (distance <= CONTACT_GAP_M) | inside
    if not contact.any():
        return False
    _, _, face = trimesh.proximity.closest_point(mesh, hand_vertices[contact].mean(axis=0)[None])
    return bool(np.asarray(hold_faces, dtype=bool)[face[0]])
