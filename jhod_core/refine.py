"""Post-sampling grasp refinement: fewer penetrations, more finger contact, joint limits respected.

NumPy only (no torch), so the same code runs after ``jhod sample`` and inside Blender's built-in
backend. Sampled grasps sit in the right place with roughly the right shape, but fingers hover a few
millimetres off the surface or sink into it. Two cheap moves fix most of that:

* fingers: every finger gets one extra flexion angle added to its three joints, chosen from a small
  grid (``FLEX_OFFSETS``) and clipped to the anatomical limits (``hand.joint_limits``; clipping also
  removes any limit violation of the sampled pose). Among the offsets that keep every vertex of the
  finger within ``depth`` of the surface, each finger takes the one under which the whole hand blocks
  the most pull directions (see ``BLOCKS``), ties going to the smallest change whose
  palmar pads touch (within ``touch``); a finger that cannot touch takes the closest safe offset, except that one
  that comes no closer than ``CURL_GAP`` curls towards ``RELAXED_FLEXION`` (not the thumb).
* approach: a hand that touches nothing slides straight towards the object until it does;
* push-out: the whole hand is translated along the mean outward normal under its penetrating palm
  vertices until the deepest one is ``margin`` above the surface (``PUSH_ITERATIONS``). The palm only: fingers
  sunk on the far side of an object pulled the other way, and 10 % of the chosen grasps kept a palm over 1 cm
  deep; the fingers are opened or closed next anyway;
* clear the palm (``clear_palm``): a handle or a wall through the palm, between palm vertices that are all outside
  it, is seen from the object's side (``object_depth_in_hands``) and the hand moved back along the palm's normal
  until it is out, in front of the palm;
* tidy (after the choice among candidates, ``tidy``): every vertex measured once more, parts deeper than
  ``TIDY_DEPTH`` lifted;
* an asked grasp type (``grasp_type``) is kept: see ``TYPE_CLEARANCE``.

Order: approach, push-out, clear the palm, fingers (one pass: closing the fingers before the push-out as well cost
twice the time and measured no better on validation objects), and approach again for the hands whose
fingers, opened out of the object, left them touching nothing. ``GraspRefiner.scores`` rates refined
grasps (pull directions held minus the depth of the overlap, hand in object or object in hand: ``depths``) so
that callers can keep the best of several samples.
The object is a set of surface points with outward normals (``ObjectSurface``); the signed distance of x
is (x - p) . n for its nearest surface point p (negative inside), exact for locally flat surfaces and
good to ~1 mm with 8192 points on a hand-size object, positive beyond apexes and rims (see
``ObjectSurface.signed_distance``). Everything is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry.sampling import farthest_point_sampling
from .geometry.normals import incident_faces, vertex_normals
from .hand.joint_limits import (
    anatomical_frames,
    joint_angles,
    limits_array,
    pose_from_angles,
)
from .hand.model_file import HandData
from .hand.numpy_forward import forward as hand_forward
from .hand.numpy_forward import rodrigues
from .hand.params import GLOBAL_ORIENT, HAND_POSE, TRANSL
from .hand.regions import finger_vertex_ids, palmar_pads
from .hand.topology import FINGER_JOINTS

FLEX_OFFSETS = np.deg2rad([-30.0, -18.0, -9.0, 0.0, 5.0, 10.0, 16.0, 23.0, 31.0, 40.0, 50.0])
POINTS_PER_FINGER = 48   # hand vertices the refiner measures (farthest-point subsets): speed
PALM_POINTS = 96
REACH = 0.03             # m: vertices farther than this from the object count as "far outside"
# A finger (not the thumb) that can touch the object at no offset curls to at least this mean flexion of its three
# joints: the median of the training grasps' fingers (40 degrees; 10 % of them are under 24) instead of taking the
# offset closest to the object, often the straightest: a finger pointing beside the grasp
RELAXED_FLEXION = np.deg2rad(40.0)
CURL_GAP = 0.01          # m: ... when its pads come no closer than this at any safe offset (nearer, a finger blocks
                         # pull directions in the choice's measures and the simulation: it takes the closest)
# Soft-finger squeeze, as in the data engine: a merely touching finger exerts no force in simulation. 2 mm / 0.5 mm
# (was 3 / 1) measured on validation objects: 0.04 cm less penetration at the same displacement (docs/model.md)
TOUCH = -0.0005   # m: a pad touches when it is at least this deep (negative: inside the surface)
DEPTH = 0.002     # m: deepest allowed finger vertex when closing a finger
MARGIN = 0.0005   # m: push-out leaves the deepest vertex this far above the surface
PUSH_ITERATIONS = 12  # palm-only push-out (was 4 on all measured vertices): penetration 0.46 -> 0.39 cm, 6-dir the same
# Tidying (``GraspRefiner.tidy``, after the choice): the refiner measures a subset of the vertices, and the deepest
# vertex of a refined grasp was outside that subset in 94 % of validation grasps. Every vertex is measured once
# more; a part deeper than TIDY_DEPTH is moved out: the palm by a push-out, a finger by the smallest flexion change
# in TIDY_OFFSETS that lifts it, else the one that leaves it shallowest (each finger measured on its own vertices:
# a quarter of the time in Blender, where nearest points are a brute-force search). The simulation holds partly by
# squeeze, so this trades holding for depth (docs/eval/refine_tidy.md, 24 validation objects x 8, paired by object):
# with the palm push-out, penetration 0.46 -> 0.30 cm and six-direction 2.32 -> 2.42 cm (+0.10 +- 0.18) at 3 mm;
# 0.25 cm and 2.54 cm at 2 mm.
TIDY_DEPTH = 0.003
TIDY_OFFSETS = np.deg2rad([0.0, -4.0, 4.0, -8.0, 8.0, -13.0, -20.0, -30.0])
# offsets measured together, in order (indices into TIDY_OFFSETS): a finger stops at the first stage that lifts it
TIDY_STAGES = [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6, 7])]
TIDY_KEEPS_TOUCH = 0.004  # m: a tidied hand with no vertex this close keeps its old pose (the contact metric: 5 mm)
SURFACE_POINTS = 8192
# A sample stands for a disc of this many median sample spacings (``ObjectSurface.signed_distance``): a point
# beside every disc is not inside (docs/eval/refine_distance.md)
SAMPLE_DISC = 1.5
# Blocking: a hand vertex within CONTACT_GAP of the surface stops the object moving along g if the outward
# normal there has n . g >= BLOCKS (with the simulation's friction 3 the force may lean 72 degrees off the
# normal: cos 72 = 0.32). A grasp that blocks every pull direction holds; 26 directions around the sphere.
CONTACT_GAP = 0.002
BLOCKS = 0.32
# Choosing among candidates (``GraspRefiner.scores``): the share of pull directions that some vertex of the whole
# hand within HOLD_GAP blocks (the simulation's contact skin is ~2.4 mm, docs/metrics_validation.md), minus
# SELECT_PENETRATION per metre of penetration (1 mm deeper = 0.015, 0.4 of one more direction held). Both set on
# 20 validation objects x 24 samples (docs/eval/tuning): this count predicts the six-direction displacement
# better than the mean coverage the finger choice climbs.
HOLD_GAP = 0.004
SELECT_PENETRATION = 15.0
# Asked grasp types (``jhod_core.steering``): refinement keeps the contact pattern that ``steering.grasp_types``
# reads (touching = within its 3 mm). Precision grasps and pinches keep the palm's pad TYPE_CLEARANCE off the object
# (a pinch the other fingers' first segments too), and a pinch closes the thumb and index finger only, keeping the
# other fingers that far off; a power grasp brings a palm that does not touch onto the object. Without this, closing
# every finger for holding turned most raw pinches into precision grasps (12 validation objects x 8: pinch 19 % raw,
# 6 % refined).
TYPE_CLEARANCE = 0.004
PINCH_DIGITS = ("thumb", "index")
_cube = np.stack(np.meshgrid(*[[-1.0, 0.0, 1.0]] * 3, indexing="ij"), -1).reshape(-1, 3)
_cube = _cube[np.abs(_cube).sum(1) > 0]  # the 26 neighbours of a cube cell: faces, edges, corners
PULL_DIRECTIONS = _cube / np.linalg.norm(_cube, axis=1, keepdims=True)
# The object inside the hand (``object_depth_in_hands``) is measured to this depth: a penalty of 0.15 in the choice
# (``SELECT_PENETRATION``), four pull directions' worth, already rules a hand out
IN_HAND_REACH = 0.01
# ``GraspRefiner.clear_palm`` moves hands whose palm holds the object deeper than this (a touching palm overlaps
# by a fraction of a millimetre), until it holds it no deeper than ``MARGIN``
CLEAR_PALM_DEPTH = 0.002
CLEAR_PALM_ITERATIONS = 3


class NumpyNearest:
    """``scipy.spatial.cKDTree.query`` stand-in for Pythons without SciPy (Blender): exact, NumPy only.

    Plain brute force against every point is memory-bound (a queries x points matrix) and took ~1.5 s
    of a 4-grasp refinement in Blender. Instead the points are grouped around ``COARSE`` centres (each
    point with its nearest centre; r_c = the group's radius). A query's nearest centre, at distance d,
    bounds its nearest point: no farther than d. By the triangle inequality a group whose centre is
    farther than d + r_c cannot hold it, so each query is compared only with the remaining groups'
    points. Queries go in small chunks along a Z-order curve, so that chunks are compact and their
    groups few. The result equals the k-d tree's.
    """

    COARSE = 256      # group centres
    CHUNK = 64        # queries compared together

    def __init__(self, points: np.ndarray):
        self.points = np.asarray(points, dtype=np.float64)
        if not len(self.points):
            return
        self.centres = self.points[::max(1, len(self.points) // self.COARSE)]
        # squared distances as |p|^2 - 2 q.p (+ |q|^2) on coordinates centred on the points: one product each
        self.origin = self.points.mean(axis=0)
        self.centred = self.points - self.origin
        self.centred_centres = self.centres - self.origin
        self.points_sq = (self.centred ** 2).sum(axis=1)
        self.centres_sq = (self.centred_centres ** 2).sum(axis=1)
        group = np.concatenate([(self.centres_sq[None] - 2.0 * (self.centred[i:i + 4096] @ self.centred_centres.T))
                                .argmin(axis=1) for i in range(0, len(self.points), 4096)])  # each point's centre
        self.members = np.argsort(group, kind="stable")  # point indices, grouped
        self.starts = np.searchsorted(group[self.members], np.arange(len(self.centres) + 1))
        self.radius = np.zeros(len(self.centres))
        np.maximum.at(self.radius, group, np.linalg.norm(self.points - self.centres[group], axis=1))
        self.low, extent = self.points.min(axis=0), np.ptp(self.points, axis=0).max()
        self.cell = max(extent / 64.0, 1e-9)  # Z-order resolution

    def _morton(self, x: np.ndarray) -> np.ndarray:
        """Z-order codes of points on a grid of 1/64 of the points' extent (10 bits per axis)."""
        cells = np.clip(np.floor((x - self.low) / self.cell), 0, 1023).astype(np.int64)
        code = np.zeros(len(x), dtype=np.int64)
        for bit in range(10):
            for axis in range(3):
                code |= ((cells[:, axis] >> bit) & 1) << (3 * bit + axis)
        return code

    def query(self, x: np.ndarray, distance_upper_bound: float = np.inf, workers: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
        """cKDTree's ``query`` (k = 1); ``workers`` is accepted for the same calls and ignored (one thread).

        Squared distances (see ``__init__``), square roots only where needed: 2.8x faster than full distance
        matrices, the same nearest points."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 3)
        dist, idx = np.full(len(x), np.inf), np.full(len(x), len(self.points), dtype=np.int64)
        if not len(x) or not len(self.points):
            return dist, idx
        order = np.argsort(self._morton(x), kind="stable")
        x = x - self.origin
        for start in range(0, len(x), self.CHUNK):
            rows = order[start:start + self.CHUNK]
            q = x[rows]
            to_centre = self.centres_sq[None] - 2.0 * (q @ self.centred_centres.T) + (q * q).sum(axis=1)[:, None]
            bound = np.minimum(np.sqrt(np.maximum(to_centre.min(axis=1), 0.0)), distance_upper_bound)[:, None]
            # a group whose centre is farther than bound + its radius cannot hold the nearest point (a little
            # slack: the nearest centre's own square root, squared again, may round below it)
            groups = np.flatnonzero((to_centre <= (bound + self.radius[None]) ** 2 * (1 + 1e-9) + 1e-18).any(axis=0))
            if not len(groups):
                continue
            ids = np.sort(np.concatenate([self.members[self.starts[g]:self.starts[g + 1]] for g in groups]))
            k = ids[(self.points_sq[ids][None] - 2.0 * (q @ self.centred[ids].T)).argmin(axis=1)]
            dist[rows], idx[rows] = np.linalg.norm(q - self.centred[k], axis=1), k  # ids sorted: ties to the lowest
        far = dist > distance_upper_bound
        dist[far], idx[far] = np.inf, len(self.points)  # cKDTree's convention for "nothing within reach"
        return dist, idx


def sample_spacing(points: np.ndarray, probes: int = 64) -> float:
    """Median distance from a sample to its nearest other sample (``probes`` of them; NumPy only), metres."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return 0.0
    centred = points - points.mean(axis=0)
    probe = centred[:: max(1, len(points) // probes)]
    d2 = (probe ** 2).sum(1)[:, None] + (centred ** 2).sum(1)[None] - 2.0 * probe @ centred.T  # itself: ~0
    return float(np.median(np.sqrt(np.maximum(np.partition(d2, 1, axis=1)[:, 1], 0.0))))


def nearest_index(points: np.ndarray):
    """A k-d tree when SciPy is there, else the brute-force stand-in (same ``query`` results)."""
    try:
        from scipy.spatial import cKDTree
    except ImportError:
        return NumpyNearest(points)
    return cKDTree(points)


_NEIGHBOURS = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)  # 27 cells


@dataclass
class ObjectSurface:
    """Surface samples (N, 3) and unit outward normals (N, 3) of one object, with a k-d tree."""

    points: np.ndarray
    normals: np.ndarray

    def __post_init__(self):
        self.tree = nearest_index(self.points)
        self.radius = SAMPLE_DISC * sample_spacing(self.points)  # of each sample's disc, ``signed_distance``

    @classmethod
    def from_mesh(cls, mesh, n: int = SURFACE_POINTS, seed: int = 0) -> "ObjectSurface":
        from .geometry.sampling import sample_surface

        points, normals, _ = sample_surface(mesh, n, seed=seed)
        return cls(points, normals)

    @classmethod
    def from_points(cls, points: np.ndarray, normals: np.ndarray | None = None, k: int = 16) -> "ObjectSurface":
        """Points with their outward ``normals``; without them, normals from local PCA oriented away
        from the centroid (fine for roughly convex objects; needs SciPy)."""
        points = np.asarray(points, dtype=np.float64)
        if normals is not None:
            return cls(points, np.asarray(normals, dtype=np.float64))
        from scipy.spatial import (
            cKDTree,  # only the CLI/Python API pass bare points; Blender passes normals
        )

        _, nn = cKDTree(points).query(points, k=min(k, len(points)))
        local = points[nn] - points[nn].mean(axis=1, keepdims=True)
        normals = np.linalg.eigh(np.einsum("nki,nkj->nij", local, local))[1][:, :, 0]
        outward = points - points.mean(axis=0)
        normals *= np.where(np.einsum("ni,ni->n", normals, outward) < 0, -1.0, 1.0)[:, None]
        return cls(points, normals)

    def near_samples(self, x: np.ndarray, reach: float) -> np.ndarray:
        """Ids of the samples in a ``reach`` cell of a grid next to a cell holding one of the points ``x`` (n, 3):
        every sample within ``reach`` of a point is among them. The grid (samples sorted by cell) is built once
        per ``reach`` and kept with the surface."""
        grid = self.__dict__.setdefault("_grids", {}).get(reach)
        if grid is None:
            low = self.points.min(axis=0) - reach
            shape = np.floor((self.points.max(axis=0) + reach - low) / reach).astype(np.int64) + 1
            keys = np.ravel_multi_index(np.floor((self.points - low) / reach).astype(np.int64).T, shape)
            order = np.argsort(keys, kind="stable")
            grid = self._grids[reach] = (low, shape, order, keys[order])
        low, shape, order, keys = grid
        # the points' cells, those beyond the grid moved onto its border ring (more samples, never fewer), unique
        ring = np.clip(np.floor((np.asarray(x) - low) / reach).astype(np.int64), -1, shape) + 1
        cells = np.array(np.unravel_index(np.unique(np.ravel_multi_index(ring.T, shape + 2)), shape + 2)).T - 1
        cells = (cells[:, None] + _NEIGHBOURS[None]).reshape(-1, 3)
        cells = cells[np.all((cells >= 0) & (cells < shape), axis=1)]
        if not len(cells):
            return np.zeros(0, dtype=np.int64)
        wanted = np.unique(np.ravel_multi_index(cells.T, shape))
        start, stop = np.searchsorted(keys, wanted), np.searchsorted(keys, wanted, side="right")
        count = stop - start
        return order[np.repeat(start - np.cumsum(count) + count, count) + np.arange(count.sum())]

    def nearest(self, x: np.ndarray, reach: float = REACH) -> tuple[np.ndarray, np.ndarray]:
        """(distance (n,), index (n,)) of the nearest surface sample of points x (n, 3); inf and ``len(points)``
        beyond ``reach`` (a bounded k-d tree query is several times faster, and nothing far away matters here)."""
        return self.tree.query(x, distance_upper_bound=reach, workers=-1)  # all cores: most of refining

    def signed_distance(self, x: np.ndarray, reach: float = REACH) -> tuple[np.ndarray, np.ndarray]:
        """(signed distance (...,), outward normal at the nearest sample (..., 3)) of points (..., 3).

        The plane distance (x - p) . n to the nearest sample p, except where x lies under p's plane but more beside
        p's disc (``radius``) than under it: beyond an apex or a rim, where the plane distance called points 1.5 cm
        away "inside" (a validation cone) and the push-out believed it; there the distance to the disc, positive.
        The distance to the disc everywhere was measured too (docs/eval/refine_distance.md): closer to the mesh's
        exact distance beside edges (99th-percentile error 1.5 mm, not 4.8), but grasps held no better (six-direction
        +0.07 +- 0.10 cm), so the plane distance stays.

        Points farther than ``reach`` from every sample get +inf and a zero normal (nothing far away matters here).
        """
        flat = x.reshape(-1, 3)
        dist, idx = self.nearest(flat, reach)
        near = np.isfinite(dist)
        sd = np.full(len(flat), np.inf)
        normal = np.zeros_like(flat)
        normal[near] = self.normals[idx[near]]
        offset = flat[near] - self.points[idx[near]]
        along = np.einsum("ni,ni->n", offset, normal[near])
        beside = np.maximum(np.sqrt(np.maximum(dist[near] ** 2 - along ** 2, 0.0)) - self.radius, 0.0)
        apex = (along < 0) & (beside > -along)  # more beside the sample than under it: outside (an apex)
        sd[near] = np.where(apex, np.sqrt(along ** 2 + beside ** 2), along)
        return sd.reshape(x.shape[:-1]), normal.reshape(x.shape)


def object_depth_in_hands(vertices: np.ndarray, faces: np.ndarray, surface: ObjectSurface,
                          reach: float = IN_HAND_REACH, parts: np.ndarray | None = None,
                          sd: np.ndarray | None = None) -> np.ndarray:
    """(B,) how deep the object's samples reach into each closed hand ``vertices`` (B, V, 3) with ``faces``, m (0:
    none inside): the point-normal distance to the hand's nearest vertex, as ``ObjectSurface.signed_distance`` is
    to the object, over the samples within ``reach`` of their nearest vertex (so at most ``reach``; a surface that
    goes deeper passes through shallower samples on its way in).

    Hand vertices alone miss a thin wall or handle that passes through a palm or a finger: in the evaluation a
    mug's wall cut through a palm, 49 cm3 of intersection under a 4 mm deepest vertex (docs/eval/object_in_hand.md).
    A grid of ``reach`` cells finds the samples near vertices; nearest vertices by brute force, the same with or
    without SciPy. ``parts`` (V,) ints: the depth per part of the hand instead, (B, parts.max() + 1), each sample
    counted for the part of its nearest vertex (-1: for none). ``sd`` (B, V): the vertices' signed distances to the
    object where measured already; only vertices within ``reach`` of the object can be a counted sample's nearest,
    so only samples near them are measured.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    incident = incident_faces(faces, vertices.shape[1])  # normals only of the vertices that are some sample's nearest
    label = np.zeros(vertices.shape[1], dtype=np.int64) if parts is None else np.asarray(parts, dtype=np.int64)
    out = np.zeros((len(vertices), label.max(initial=0) + 1))
    counted = label >= 0
    for b, hand in enumerate(vertices):
        # vertices that can be a counted sample's nearest: of a counted part, within ``reach`` of the object
        close = hand[counted & (np.abs(sd[b]) <= reach) if sd is not None else counted]
        if not len(close):
            continue
        x = surface.points[surface.near_samples(close, reach)]  # every sample within ``reach`` of such a vertex
        if not len(x):
            continue
        # a vertex within ``reach`` of a sample lies within ``reach`` of the samples' box: only those compete;
        # with every vertex's distance known (the whole hand counted), only those within ``reach`` of the object
        # (a sample's nearest beyond that is beyond ``reach`` of it too, and the sample is not counted either way)
        compete = np.all((hand >= x.min(axis=0) - reach) & (hand <= x.max(axis=0) + reach), axis=1)
        if sd is not None and parts is None:
            compete &= np.abs(sd[b]) <= reach
        ids = np.flatnonzero(compete)
        if not len(ids):
            continue
        k = ids[_nearest_rows(x, hand[ids])]
        keep = (((x - hand[k]) ** 2).sum(axis=1) <= reach * reach) & counted[k]
        x, k = x[keep], k[keep]
        if not len(k):
            continue
        nearest, k = np.unique(k, return_inverse=True)
        normal = vertex_normals(hand, faces, nearest, incident)[k]
        k = nearest[k]
        np.maximum.at(out[b], label[k], -np.einsum("ni,ni->n", x - hand[k], normal))  # from 0: inside only
    return out[:, 0] if parts is None else out


NEAREST_CHUNK = 256  # samples per product in ``_nearest_rows``: a 256 x ~800 block stays in the CPU's cache


def _nearest_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) index of the nearest row of ``y`` (m, 3) for each row of ``x`` (n, 3), by brute force: argmin of
    |y|^2 - 2 x.y as one float32 product of [-2x, 1] with [y, |y|^2] on centred coordinates, in blocks that stay in
    cache (6.8x faster than the plain expression at 3362 x 778; the same depths on 256 evaluation hands)."""
    centre = y.mean(axis=0)
    yc = (y - centre).astype(np.float32)
    table = np.concatenate([yc, (yc * yc).sum(axis=1, keepdims=True)], axis=1).T.copy()   # (4, m)
    query = np.concatenate([-2.0 * (x - centre), np.ones((len(x), 1))], axis=1).astype(np.float32)
    return np.concatenate([(query[s:s + NEAREST_CHUNK] @ table).argmin(axis=1)
                           for s in range(0, len(query), NEAREST_CHUNK)])


def _blocking(sd: np.ndarray, normal: np.ndarray, gap: float = CONTACT_GAP) -> np.ndarray:
    """(..., directions): per pull direction the best n . g over vertices within ``gap`` (else -1)."""
    dots = normal @ PULL_DIRECTIONS.T                               # (..., V, directions)
    return np.where((sd <= gap)[..., None], dots, -1.0).max(axis=-2)


def _coverage(blocking: np.ndarray) -> np.ndarray:
    """Mean over pull directions of the best blocking contact, clipped at ``BLOCKS`` (blocked is blocked)."""
    return np.minimum(blocking, BLOCKS).mean(axis=-1)


class GraspRefiner:
    """Refines (B, 51) MANO parameters [global_orient, hand_pose, transl] of a right-convention hand."""

    def __init__(self, data: HandData):
        if data.side != "right":
            raise ValueError("GraspRefiner works on right hands (sampled grasps are right hands; mirror after)")
        self.data = data
        self.frames = anatomical_frames(data.rest_joints)
        self.limits = limits_array()
        # measured vertices: a farthest-point subset of each finger (pads first) and of the palm
        fingers = finger_vertex_ids(data)
        pads = palmar_pads(data)
        rest = data.v_template
        ids, self.fingers, self.pads = [], {}, {}
        for finger, joints in FINGER_JOINTS.items():
            pad = np.concatenate([pads[j] for j in joints])
            pad = pad[farthest_point_sampling(rest[pad], min(POINTS_PER_FINGER // 2, len(pad)))]
            other = np.setdiff1d(fingers[finger], pad)
            other = other[farthest_point_sampling(rest[other], min(POINTS_PER_FINGER - len(pad), len(other)))]
            start = sum(len(i) for i in ids)
            ids += [pad, other]
            self.pads[finger] = np.arange(start, start + len(pad))
            self.fingers[finger] = np.arange(start, start + len(pad) + len(other))
        palm = np.setdiff1d(np.arange(len(rest)), np.concatenate(ids))
        ids.append(palm[farthest_point_sampling(rest[palm], min(PALM_POINTS, len(palm)))])
        start = sum(len(i) for i in ids[:-1])
        self.palm = np.arange(start, start + len(ids[-1]))
        self.vertex_ids = np.concatenate(ids)
        # all vertices of the palm and of the fingers (finger after finger), for ``tidy``
        self.all_palm = np.setdiff1d(np.arange(len(rest)), np.concatenate(list(fingers.values())))
        self.palm_pad = pads[0]  # what the grasp-type classifier calls the palm
        # a pinch closes thumb and index; it also backs off until the other fingers' first segments are clear:
        # flexing cannot move those
        self.pinch_off = tuple(f for f in FINGER_JOINTS if f not in PINCH_DIGITS)
        self.pinch_clear = np.concatenate([pads[0]] + [pads[FINGER_JOINTS[f][0]] for f in self.pinch_off])
        # the palm's normal in the rest pose; posed, the global orientation turns it (the knuckles that
        # ``steering.palm_directions`` reads follow the wrist alone)
        from .steering import palm_directions

        zero = np.zeros((1, 3))
        self.palm_normal = palm_directions(hand_forward(data, global_orient=zero, hand_pose=np.zeros((1, 45)),
                                                        transl=zero)[2])[0]
        self.all_fingers = np.concatenate([fingers[finger] for finger in FINGER_JOINTS])
        self.palm_part = np.full(len(rest), -1)  # the palm as a part for ``object_depth_in_hands``
        self.palm_part[self.all_palm] = 0
        bounds = np.cumsum([0] + [len(fingers[finger]) for finger in FINGER_JOINTS])
        self.all_finger_slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    @classmethod
    def for_hand(cls, data: HandData) -> "GraspRefiner":
        """One refiner per loaded hand model (``load_hand_data`` shares them), kept with it, so it goes when the
        hand data goes: picking its measured vertices takes farthest-point sampling, ~15 ms, a tenth of refining
        a few grasps."""
        refiner = data.__dict__.get("_refiner")  # HandData is frozen: the refiner rides in its __dict__
        if refiner is None:
            refiner = data.__dict__["_refiner"] = cls(data)
        return refiner

    def _angles(self, pose):
        return np.clip(joint_angles(pose, self.frames), self.limits[..., 0], self.limits[..., 1])

    def _with_offsets(self, angles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Poses (B, 45) with per-finger flexion offsets (B, 5) added to all joints, clipped to limits."""
        angles = angles.copy()
        for i, joints in enumerate(FINGER_JOINTS.values()):
            idx = np.asarray(joints) - 1
            angles[:, idx, 2] += offsets[:, i:i + 1]
        angles = np.clip(angles, self.limits[..., 0], self.limits[..., 1])
        return pose_from_angles(angles, self.frames)

    def _vertices(self, params: np.ndarray, vertex_ids: np.ndarray | None = None) -> np.ndarray:
        """Posed hand vertices ``vertex_ids`` (default: the measured subset) of params (B, 51)."""
        return hand_forward(self.data, global_orient=params[:, GLOBAL_ORIENT], hand_pose=params[:, HAND_POSE],
                            transl=params[:, TRANSL],
                            vertex_ids=self.vertex_ids if vertex_ids is None else vertex_ids)[0]

    def close_fingers(self, params: np.ndarray, surface: ObjectSurface, touch: float = TOUCH,
                      depth: float = DEPTH, off: tuple = ()) -> np.ndarray:
        """Each finger's flexion offset (see the module's notes); fingers named in ``off`` take instead the
        smallest change that keeps all their measured vertices ``TYPE_CLEARANCE`` off the object (else the
        offset that keeps them farthest off), and count for nothing in the choice of the others."""
        b, k = len(params), len(FLEX_OFFSETS)
        angles = self._angles(params[:, HAND_POSE])
        cand = np.repeat(params, k, axis=0)
        offsets = np.tile(FLEX_OFFSETS[:, None], (b, len(FINGER_JOINTS)))  # (b*k, 5)
        cand[:, HAND_POSE] = self._with_offsets(np.repeat(angles, k, axis=0), offsets)
        verts = self._vertices(cand).reshape(b, k, -1, 3)
        cost_change = np.abs(FLEX_OFFSETS)[None]
        scores, safes, blocking = [], [], []
        for finger in FINGER_JOINTS:
            sd_finger, normal = surface.signed_distance(verts[:, :, self.fingers[finger]])  # pads come first
            if finger in off:
                gap = sd_finger.min(axis=2)                                   # (b, k)
                scores.append(np.where(gap >= TYPE_CLEARANCE, cost_change, 100.0 - np.minimum(gap, 1.0)))
                safes.append(np.zeros((b, k), dtype=bool))                    # never chosen for holding
                blocking.append(np.full((b, k, len(PULL_DIRECTIONS)), -1.0))  # blocks nothing
                continue
            pen = np.maximum(-sd_finger.min(axis=2), 0)                       # (b, k)
            pad_gap = sd_finger[:, :, :len(self.pads[finger])].min(axis=2)
            safe = pen <= depth
            touching = safe & (pad_gap <= touch)
            # lexicographic choice: touching with the smallest change, else safe and closest, else shallowest;
            # a finger (not the thumb) that comes within CURL_GAP at no safe offset curls instead towards
            # RELAXED_FLEXION, or keeps its pose when curled that far already: the closest offset was often the
            # straightest, a finger pointing beside the grasp (and beyond ``REACH``, its gap inf at every offset,
            # the first offset, 30 degrees back, took a fifth of all fingers on everyday objects)
            closest = np.minimum(np.abs(pad_gap), 2 * REACH) + 1e-6 * cost_change
            if finger != "thumb":
                flexion = angles[:, np.asarray(FINGER_JOINTS[finger]) - 1, 2].mean(axis=1)
                curl = np.maximum(RELAXED_FLEXION - flexion, 0.0)
                nearest = np.where(safe, np.abs(pad_gap), np.inf).min(axis=1, keepdims=True)
                untouchable = nearest > CURL_GAP
                closest = np.where(untouchable, np.abs(FLEX_OFFSETS[None] - curl[:, None]), closest)
            scores.append(np.where(touching, cost_change, np.where(safe, 10.0 + closest, 100.0 + pen)))
            safes.append(safe)
            blocking.append(_blocking(sd_finger, normal))                     # (b, k, directions)
        choice = np.stack([score.argmin(axis=1) for score in scores], axis=1)  # (b, fingers)
        rest = verts[:, FLEX_OFFSETS.tolist().index(0.0), self.palm]            # the palm does not move here
        choice = self._cover(choice, scores, safes, blocking, _blocking(*surface.signed_distance(rest)))
        out = params.copy()
        out[:, HAND_POSE] = self._with_offsets(angles, FLEX_OFFSETS[choice])
        return out

    @staticmethod
    def _cover(choice, scores, safes, blocking, palm, sweeps: int = 2):
        """Coordinate ascent over fingers: each takes the safe flexion under which the whole hand blocks
        the most pull directions (clipped at ``BLOCKS``); ties go to the lexicographic choice."""
        rows = np.arange(len(choice))
        # rank of each candidate under the lexicographic rule, as a tie-breaker far below one direction
        ranks = [np.argsort(np.argsort(score, axis=1), axis=1) * 1e-6 for score in scores]
        for _ in range(sweeps):
            for f in range(choice.shape[1]):
                others = np.maximum.reduce([palm] + [blocking[g][rows, choice[:, g]] for g in range(choice.shape[1])
                                                     if g != f])                 # (b, directions)
                total = _coverage(np.maximum(others[:, None], blocking[f]))                      # (b, k)
                value = np.where(safes[f], total - ranks[f], -np.inf)
                best = value.argmax(axis=1)
                choice[:, f] = np.where(safes[f].any(axis=1), best, choice[:, f])
        return choice

    def approach(self, params: np.ndarray, surface: ObjectSurface, touch: float = TOUCH,
                 vertex_ids: np.ndarray | None = None) -> np.ndarray:
        """Hands whose vertices ``vertex_ids`` (default: the measured subset) touch nothing slide straight
        towards the object until the closest of them touches."""
        out = params.copy()
        verts = self._vertices(out, vertex_ids)
        sd, _ = surface.signed_distance(verts)
        rows = np.flatnonzero(sd.min(axis=1) > max(touch, 0.0))
        if not len(rows):
            return out
        dist, idx = surface.tree.query(verts[rows].reshape(-1, 3), workers=-1)  # unbounded: only for the far hands
        dist, idx = dist.reshape(len(rows), -1), idx.reshape(len(rows), -1)
        closest = dist.argmin(axis=1)
        gap = surface.points[idx[np.arange(len(rows)), closest]] - verts[rows, closest]
        length = np.linalg.norm(gap, axis=1, keepdims=True)
        out[rows, TRANSL] += gap * (1 - MARGIN / np.maximum(length, 1e-9)) * (length > MARGIN)
        return out

    def push_out(self, params: np.ndarray, surface: ObjectSurface, margin: float = MARGIN,
                 iterations: int = PUSH_ITERATIONS, vertex_ids: np.ndarray | None = None) -> np.ndarray:
        """Hands translated out of the object until hand vertices ``vertex_ids`` (default: the measured palm
        subset) are ``margin`` above the surface, or ``iterations`` moves are spent."""
        out = params.copy()
        verts = self._vertices(out, self.vertex_ids[self.palm] if vertex_ids is None else vertex_ids)
        rows = np.arange(len(out))  # hands still inside: only they are measured again (nearest queries are the cost)
        for _ in range(iterations):
            sd, normal = surface.signed_distance(verts[rows])
            inside = sd < 0
            moving = inside.any(axis=1)
            if not moving.any():
                break
            rows, sd, normal, inside = rows[moving], sd[moving], normal[moving], inside[moving]
            depth = np.where(inside, -sd, 0.0)
            direction = (normal * depth[..., None]).sum(axis=1)  # depth-weighted mean normal
            norm = np.linalg.norm(direction, axis=1, keepdims=True)
            direction = np.where(norm > 1e-12, direction / np.maximum(norm, 1e-12), 0.0)
            need = np.where(inside, -sd + margin, 0.0).max(axis=1)  # iterations correct for the angle
            shift = direction * need[:, None]
            out[rows, TRANSL] += shift
            verts[rows] += shift[:, None]
        return out

    def clear_palm(self, params: np.ndarray, surface: ObjectSurface, margin: float = MARGIN,
                   iterations: int = CLEAR_PALM_ITERATIONS) -> np.ndarray:
        """Hands with the object deeper than ``CLEAR_PALM_DEPTH`` inside their palm (``object_depth_in_hands``: a
        handle through the palm, which the palm's own vertices, outside the handle on both sides, do not see) moved
        back along the palm's normal until it is no deeper than ``margin``, or ``iterations`` moves are spent; a
        hand the move does not help stays where it was."""
        out = params.copy()
        depth = self._palm_depth(out, surface)
        rows = np.flatnonzero(depth > CLEAR_PALM_DEPTH)
        start, best = depth.copy(), out.copy()
        for _ in range(iterations):
            if not len(rows):
                break
            back = -rodrigues(out[rows][:, GLOBAL_ORIENT]) @ self.palm_normal
            out[rows, TRANSL] += back * (depth[rows] + margin)[:, None]
            depth[rows] = self._palm_depth(out[rows], surface)
            better = depth[rows] < start[rows]
            best[rows[better]] = out[rows[better]]
            start[rows[better]] = depth[rows[better]]
            rows = rows[depth[rows] > margin]
        return best

    def _palm_depth(self, params: np.ndarray, surface: ObjectSurface) -> np.ndarray:
        """(B,) how deep the object reaches into each hand's palm (``object_depth_in_hands``, the palm as the part).
        A sample counts only within ``IN_HAND_REACH`` of a palm vertex, so a palm farther than that from every
        sample has none: the whole hand is posed only for the others (a third of refining's time before)."""
        near = np.full((len(params), len(self.palm_part)), np.inf)
        near[:, self.all_palm] = surface.nearest(self._vertices(params, self.all_palm),
                                                 IN_HAND_REACH)[0].reshape(len(params), -1)
        rows = np.flatnonzero(np.isfinite(near).any(axis=1))
        depth = np.zeros(len(params))
        if len(rows):
            everything = np.arange(len(self.data.v_template))
            depth[rows] = object_depth_in_hands(self._vertices(params[rows], everything), self.data.closed_faces,
                                                surface, parts=self.palm_part, sd=near[rows])[:, 0]
        return depth

    def back_off(self, params: np.ndarray, surface: ObjectSurface, clear: float = TYPE_CLEARANCE,
                 iterations: int = PUSH_ITERATIONS, vertex_ids: np.ndarray | None = None) -> np.ndarray:
        """Hands moved back along their palm's normal until vertices ``vertex_ids`` (default: the palm's pad) are
        ``clear`` off the object. Straight back, not out along the object's normals as in ``push_out``: a palm
        round a handle meets normals from every side, and their mean moved it deeper."""
        vertex_ids = self.palm_pad if vertex_ids is None else vertex_ids
        out = params.copy()
        rows = np.arange(len(out))
        for _ in range(iterations):
            if not len(rows):
                break
            sd, _ = surface.signed_distance(self._vertices(out[rows], vertex_ids))
            need = clear - sd.min(axis=1)
            short = need > 1e-4  # still closer than ``clear`` (inf distances: nothing near, nothing to do)
            rows, need = rows[short], need[short]
            back = -rodrigues(out[rows][:, GLOBAL_ORIENT]) @ self.palm_normal   # (rows, 3)
            out[rows, TRANSL] += back * need[:, None]
        return out

    def tidy(self, params: np.ndarray, surface: ObjectSurface, depth: float = TIDY_DEPTH) -> np.ndarray:
        """Grasps whose palm or a finger, over all of its vertices, sinks deeper than ``depth`` moved out (see
        ``TIDY_DEPTH``); the others unchanged, and so are those that would touch nothing once moved. (Fingers that
        hold a thin handle inside them, ``object_depth_in_hands``, were tidied too, for a while: intersection volume
        -0.05 / -0.40 cm3 on held-out everyday objects, no more grasps accepted, 0.2 s more per Blender click.)"""
        params = np.asarray(params, dtype=np.float64)
        out = params.copy()
        if not len(out):
            return out
        rows = np.flatnonzero(surface.signed_distance(self._vertices(out, self.all_palm))[0].min(axis=1) < -depth)
        if len(rows):
            out[rows] = self.push_out(out[rows], surface, vertex_ids=self.all_palm)
        sd, _ = surface.signed_distance(self._vertices(out, self.all_fingers))
        deep = np.stack([sd[:, ids].min(axis=1) for ids in self.all_finger_slices], axis=1) < -depth  # (B, 5)
        rows = np.flatnonzero(deep.any(axis=1))  # only these are posed again; the others keep theirs bit for bit
        if not len(rows):
            return self._touching_or(out, params, surface)
        k = len(TIDY_OFFSETS)
        angles = self._angles(out[rows][:, HAND_POSE])
        choice = np.zeros((len(rows), len(FINGER_JOINTS)), dtype=int)  # index into TIDY_OFFSETS; 0: unchanged
        for f, ids in enumerate(self.all_finger_slices):  # each deep finger measured alone: 1/5 of the vertices
            mine = np.flatnonzero(deep[rows, f])
            if not len(mine):
                continue
            pen = np.full((len(mine), k), np.inf)                                  # (deep rows, k)
            todo = np.arange(len(mine))  # deep rows (into ``mine``) no offset has lifted yet
            for stage in TIDY_STAGES:  # offsets in order, a few at a time: most fingers lift at the first ones
                cand = np.repeat(out[rows[mine[todo]]], len(stage), axis=0)
                offsets = np.repeat(np.tile(TIDY_OFFSETS[stage], len(todo))[:, None], len(FINGER_JOINTS), axis=1)
                cand[:, HAND_POSE] = self._with_offsets(np.repeat(angles[mine[todo]], len(stage), axis=0), offsets)
                sd, _ = surface.signed_distance(
                    self._vertices(cand, self.all_fingers[ids]).reshape(len(todo), len(stage), -1, 3))
                pen[todo[:, None], stage[None]] = np.maximum(-sd.min(axis=2), 0.0)
                todo = todo[~(pen[todo] <= depth).any(axis=1)]
                if not len(todo):
                    break
            ok = pen <= depth
            # the first offset (smallest change) that lifts the finger, else the shallowest
            choice[mine, f] = np.where(ok.any(axis=1), ok.argmax(axis=1), pen.argmin(axis=1))
        out[rows, HAND_POSE] = self._with_offsets(angles, TIDY_OFFSETS[choice])
        return self._touching_or(out, params, surface)

    def _touching_or(self, tidied: np.ndarray, params: np.ndarray, surface: ObjectSurface) -> np.ndarray:
        """``tidied`` where it still touches the object (a vertex within ``TIDY_KEEPS_TOUCH`` of a surface sample),
        else ``params``: tidying must not leave a hand hovering (it did for 1 % of held-out grasps)."""
        changed = np.flatnonzero((tidied != params).any(axis=1))
        if len(changed):
            verts = self._vertices(tidied[changed], np.arange(len(self.data.v_template))).reshape(-1, 3)
            # the distance to the nearest sample, not the signed one: near a rim or an apex the nearest sample's
            # normal can call a vertex 1.5 cm away "inside" (a validation cone), and the push-out believed it
            dist = surface.nearest(verts)[0].reshape(len(changed), -1)
            lost = changed[(dist > TIDY_KEEPS_TOUCH).all(axis=1)]
            tidied[lost] = params[lost]
        return tidied

    def scores(self, params: np.ndarray, surface: ObjectSurface) -> np.ndarray:
        """(B,) how well each grasp should hold, higher is better: the share of the 26 pull directions that
        a vertex of the whole hand within ``HOLD_GAP`` blocks (n . g >= ``BLOCKS``) minus
        ``SELECT_PENETRATION`` x the depth of the overlap (``depths``, m)."""
        held, depth = self.hold_terms(params, surface)
        return held - SELECT_PENETRATION * depth

    def hold_terms(self, params: np.ndarray, surface: ObjectSurface) -> tuple[np.ndarray, np.ndarray]:
        """The parts of ``scores``: (share of pull directions held (B,), depth of the overlap (B,), m: ``depths``)."""
        params = np.asarray(params, dtype=np.float64)
        verts = hand_forward(self.data, global_orient=params[:, GLOBAL_ORIENT], hand_pose=params[:, HAND_POSE],
                             transl=params[:, TRANSL])[0]  # all vertices: the penetration metric's deepest one too
        sd, normal = surface.signed_distance(verts)
        return (_blocking(sd, normal, HOLD_GAP) >= BLOCKS).mean(axis=-1), self.depths(verts, surface, sd)

    def depths(self, vertices: np.ndarray, surface: ObjectSurface, sd: np.ndarray | None = None) -> np.ndarray:
        """(B,) the deeper of: the hand's deepest vertex in the object, the object's deepest sample in the hand (m),
        for all vertices (B, V, 3) of posed hands (their signed distances ``sd`` if measured already)."""
        if sd is None:
            sd = surface.signed_distance(vertices)[0]
        return np.maximum(np.maximum(-sd.min(axis=1), 0.0),
                          object_depth_in_hands(vertices, self.data.closed_faces, surface, sd=sd))

    def __call__(self, params: np.ndarray, surface: ObjectSurface, grasp_type: str | None = None) -> np.ndarray:
        """Refined params (B, 51); ``grasp_type`` (``steering.GRASP_TYPES``) keeps that type's contact pattern."""
        params = np.asarray(params, dtype=np.float64)
        hands = self.clear_palm(self.push_out(self.approach(params, surface), surface), surface)
        off = ()
        if grasp_type == "power":  # the palm's pad onto the object, for the hands where it does not touch
            hands = self.approach(hands, surface, vertex_ids=self.palm_pad)
        elif grasp_type == "precision":  # the palm's pad off the object
            hands = self.back_off(hands, surface)
        elif grasp_type == "pinch":  # and the other fingers' first segments
            hands = self.back_off(hands, surface, vertex_ids=self.pinch_clear)
            off = self.pinch_off
        fingers = self.close_fingers(hands, surface, off=off)
        # fingers opened out of a deep object can leave the whole hand hovering (a held-out kettle: 5.7 mm away)
        return self.approach(fingers, surface)
