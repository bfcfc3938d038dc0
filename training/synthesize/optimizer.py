"""Grasp synthesis by batched optimisation of the MANO-format hand on one object.

In the spirit of DexGraspNet and OakInk-Shape's refinement (facts in
../shared/reference/ml_anchors.md section 5): many hands start spread around the object with
their palms facing it, then Adam minimises

    E = w_contact  * distance of the grasp type's contact pads to the surface
      + w_pen      * depth of hand points inside the object
      + w_obj_pen  * depth of object points inside the hand
      + w_self     * finger-finger overlap
      + w_limits   * squared anatomical joint-limit violation
      + w_closure  * net contact normal force and torque (a force-closure proxy)
      + w_prior    * distance of the finger pose from the grasp type's template
      + w_surround * how far the pads sit on one side of the object's long axis or centre (see surround_centre)

Grasp types ("power", "precision", "pinch") choose which pads must touch, so the set contains
whole-hand wraps as well as fingertip grasps. Distances inside the energy are in centimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from jhod_core.geometry.sampling import farthest_point_sampling, sample_surface, sample_triangles
from jhod_core.hand import HandModel
from jhod_core.hand.joint_limits import anatomical_frames, limit_violation, limits_array, pose_from_angles
from jhod_core.hand.regions import finger_vertex_ids, palmar_pads
from jhod_core.hand.topology import FINGER_JOINTS

from .accept import part_to_prefer
from .sdf_grid import SDFGrid

GRASP_TYPES = ("power", "precision", "pinch")
TYPE_PROBABILITIES = (0.7, 0.25, 0.05)
# On objects with labelled parts, most hands start on a part people hold (handles, grips, stems, bodies); the rest
# anywhere, so the data still shows other holds (people hold a mug by its body too).
HOLD_START_SHARE = 0.85
# Large objects (longest side >= LARGE_OBJECT) are held at edges and rims, where fingers and thumb can oppose
# across a corner: this share of hands starts facing a sharp edge (bisecting its two faces) when the object has one.
LARGE_OBJECT, EDGE_START_SHARE, EDGE_ANGLE_DEG = 0.15, 0.5, 50.0
# Objects a hand can span (at most SURROUND_SPAN across, not counting the long axis) and without a part to prefer are
# held by hands that surround them (``SynthesisConfig.w_surround``): around the long axis when the object is at least
# ELONGATED times longer than it is wide (a can, a phone, a handle), else around its centre (a ball, a cube), unless
# it is flat (thinner than FLAT times its width) or hollow there (a dish, a ring, a glass): those are held at the rim
# or the wall; surrounding a dish's centre took its acceptance from 94 % to 41 %
# (docs/eval/bulky_objects_before_flat.md).
SURROUND_SPAN, ELONGATED, FLAT = 0.16, 1.3, 0.5
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
# A pinch holds between thumb and index only: the other fingers tuck into the palm (template bends, degrees) and are
# pushed to stay PINCH_CLEARANCE off the object; otherwise the middle finger drifts on and it is a precision grasp.
PINCH_OFF, PINCH_TUCK, PINCH_CLEARANCE = ("middle", "ring", "pinky"), (70, 90, 60), 0.008


@dataclass
class SynthesisConfig:
    batch: int = 16
    steps: int = 200
    lr_rot: float = 0.01
    lr_transl: float = 0.002
    lr_pose: float = 0.02
    w_contact: float = 3.0
    w_pen: float = 3.0
    w_obj_pen: float = 1.0
    w_self: float = 2.0
    w_limits: float = 30.0
    w_closure: float = 2.0
    w_prior: float = 0.05
    w_hold: float = 1.0  # pull of the contacts towards the parts people hold (hands that started there)
    # pull the active pads to surround the object's long axis (or centre), a force-closure proxy that, unlike the
    # closure term's normals (the grid's, without gradient), moves the hand (surround_centre; bench/bulky_objects.py)
    w_surround: float = 30.0
    w_off: float = 0.1  # pinches: the tucked fingers' vertices kept PINCH_CLEARANCE off the surface
    sdf_resolution: int = 64
    type_probabilities: tuple = TYPE_PROBABILITIES  # of GRASP_TYPES for hands started from scratch
    # Soft-finger squeeze: pads aim this deep into the surface and the rest of the hand may sink this
    # far for free. Simulation needs it: a merely touching hand exerts no force (PyBullet even pushes
    # touching bodies ~2 mm apart), so nothing holds the object against gravity.
    squeeze: float = 0.0035
    free_depth: float = 0.0035


def _type_angles_deg(kind: str, rng: np.random.Generator) -> np.ndarray:
    """(15, 3) template anatomical angles (twist, spread, bend) for a grasp type, jittered."""
    a = np.zeros((15, 3))
    curl = {"power": (45, 55, 35), "precision": (35, 40, 20), "pinch": (40, 50, 30)}[kind]
    for finger, joints in FINGER_JOINTS.items():
        for i, j in enumerate(joints):
            if finger == "thumb":
                base = [(15, 35, 20), (0, 0, 20), (0, 0, 20)][i]
                a[j - 1] = np.asarray(base, float) + rng.normal(0, [8, 10, 8]) * (i == 0)
            else:
                bend = PINCH_TUCK[i] if kind == "pinch" and finger in PINCH_OFF else curl[i]
                a[j - 1, 2] = bend + rng.normal(0, 8)
                if i == 0:
                    a[j - 1, 1] = rng.normal(0, 6)
    return a


class GraspSynthesizer:
    """Optimises batches of grasps on one object; `run(mesh, seed)` returns candidate parameters."""

    def __init__(self, hand: HandModel | None = None, config: SynthesisConfig | None = None):
        self.hand = hand or HandModel()
        self.cfg = config or SynthesisConfig()
        data = self.hand.data
        self.frames = anatomical_frames(data.rest_joints)
        self.frames_t = torch.tensor(self.frames, dtype=torch.float32)
        self.limits = limits_array()
        pads = palmar_pads(data)
        v = data.v_template
        # A few representative contact points per segment: farthest-point picks on its pad.
        self.contact_ids, self.contact_joint = [], []
        for k, ids in pads.items():
            if len(ids) == 0:
                continue
            count = 5 if k == 0 else (2 if k in (3, 6, 9, 12, 15) else 1)
            pick = ids[farthest_point_sampling(v[ids], min(count, len(ids)), seed=0)]
            self.contact_ids += pick.tolist()
            self.contact_joint += [k] * len(pick)
        self.contact_ids = torch.tensor(self.contact_ids)
        self.contact_joint = np.array(self.contact_joint)
        self.palm_centre = v[pads[0]].mean(0)
        palmar = np.cross(self.frames[0][:, 2], self.frames[0][:, 0])
        self.palmar = palmar / np.linalg.norm(palmar)
        fingers_dir = data.rest_joints[4] - data.rest_joints[0]
        self.finger_dir = fingers_dir / np.linalg.norm(fingers_dir)
        self.faces_t = torch.tensor(data.closed_faces)
        # skin subset (about 5 mm spacing) for the object-inside-hand test
        self.skin_ids = torch.as_tensor(farthest_point_sampling(v, 600, seed=0))
        digits = finger_vertex_ids(data)
        self.pinch_off_ids = torch.as_tensor(np.concatenate([digits[f] for f in PINCH_OFF]))
        self._near, self._step = None, 0

    # -- active contacts per grasp type -----------------------------------------------------------
    def active_mask(self, kinds: list[str], rng: np.random.Generator) -> torch.Tensor:
        joint = self.contact_joint
        masks = []
        for kind in kinds:
            if kind == "power":
                fingers = [f for f in FINGERS if f == "thumb" or rng.random() < 0.9]
                segs = {0} | {j for f in fingers for j in FINGER_JOINTS[f][1:]}
            elif kind == "precision":
                fingers = ["thumb", "index", "middle"] + (["ring"] if rng.random() < 0.5 else [])
                segs = {FINGER_JOINTS[f][2] for f in fingers}
            else:
                segs = {FINGER_JOINTS["thumb"][2], FINGER_JOINTS["index"][2]}
            masks.append(np.isin(joint, list(segs)))
        return torch.tensor(np.array(masks), dtype=torch.float32)

    # -- initial poses around the object ----------------------------------------------------------
    def initial_params(self, surface: np.ndarray, kinds: list[str], rng: np.random.Generator, anchors=None,
                       share: float = HOLD_START_SHARE):
        """(rotations, translations, poses, started on a hold part (n,) bool): hands facing the object from random
        directions, at the object's support distance plus a stand-off; with ``anchors`` (points (M, 3), outward
        normals (M, 3), e.g. on the parts people hold) a ``share`` faces a random anchor instead."""
        n = len(kinds)
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        reach = (surface @ d.T).max(0)  # support distance of the object along each approach
        stand = np.array([0.012 if k == "power" else 0.035 for k in kinds]) + rng.uniform(0, 0.01, n)
        target = d * (reach + stand)[:, None]
        on_part = np.zeros(n, dtype=bool)
        if anchors is not None:
            on_part = rng.random(n) < share
            pick = rng.integers(len(anchors[0]), size=n)
            normal = anchors[1][pick] + rng.normal(scale=0.25, size=(n, 3))  # a little off the normal
            normal /= np.linalg.norm(normal, axis=1, keepdims=True)
            d = np.where(on_part[:, None], normal, d)
            target = np.where(on_part[:, None], anchors[0][pick] + normal * stand[:, None], target)
        rots, transl, poses = [], [], []
        joints = self.hand.data.rest_joints
        for i, kind in enumerate(kinds):
            roll = rng.normal(size=3)
            roll -= (roll @ d[i]) * d[i]
            roll /= np.linalg.norm(roll)
            src = np.stack([self.palmar, self.finger_dir, np.cross(self.palmar, self.finger_dir)], 1)
            dst = np.stack([-d[i], roll, np.cross(-d[i], roll)], 1)
            rot = dst @ src.T
            rots.append(_rotvec(rot))
            transl.append(target[i] - rot @ (self.palm_centre - joints[0]) - joints[0])
            poses.append(pose_from_angles(np.deg2rad(_type_angles_deg(kind, rng) * 0.5), self.frames))
        return np.array(rots), np.array(transl), np.array(poses), on_part

    # -- optimisation -----------------------------------------------------------------------------
    def run(self, mesh: trimesh.Trimesh, seed: int, sdf: SDFGrid | None = None, batch: int | None = None,
            hold_faces: np.ndarray | None = None, init: dict | None = None, steps: int | None = None):
        """``hold_faces`` (F,) bool: the faces of the parts people hold (everyday objects); most hands start there, and
        only objects without such a part get the surround term (``surround_centre``).

        ``init``: polish given grasps instead (``global_orient``, ``transl``, ``hand_pose`` arrays, e.g. a model's
        proposals; the data engine's bootstrapped mode): each keeps its own finger pose as its prior, the pads that
        already touch (within 1 cm) are the ones pulled on, and the penetration terms apply at full weight from the
        start. ``steps`` overrides the configured number of steps."""
        cfg = self.cfg
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        n = len(init["transl"]) if init is not None else (batch or cfg.batch)
        steps = steps or cfg.steps
        sdf = sdf or SDFGrid(mesh, resolution=cfg.sdf_resolution, seed=seed)
        surface, _, _ = sample_surface(mesh, 2048, seed=seed)
        obj_pts = torch.tensor(surface[farthest_point_sampling(surface, 512, seed=seed)], dtype=torch.float32)
        anchors = hold = centre = None
        hold_faces = part_to_prefer(hold_faces)
        if init is not None:
            rot0, tr0, pose0 = (np.asarray(init[k], dtype=np.float64) for k in ("global_orient", "transl", "hand_pose"))
            active, kinds = self._touching_pads(rot0, tr0, pose0, sdf)
            prior = torch.tensor(pose0, dtype=torch.float32)
        else:
            kinds = list(rng.choice(GRASP_TYPES, size=n, p=cfg.type_probabilities))
            active = self.active_mask(kinds, rng)
            share, edges = HOLD_START_SHARE, None
            if hold_faces is not None:
                faces = np.asarray(mesh.faces)[hold_faces]
                points, normals, _ = sample_triangles(mesh.vertices, faces, 512, seed=seed)
                anchors = (points, normals)
            elif np.ptp(mesh.vertices, axis=0).max() >= LARGE_OBJECT:
                edges = edge_anchors(mesh, 512, seed)
                anchors, share = edges, EDGE_START_SHARE
            rot0, tr0, pose0, on_part = self.initial_params(surface, kinds, rng, anchors, share)
            if anchors is not None and edges is None:  # the pull towards hold parts; edges only start hands
                hold = (torch.tensor(anchors[0][::4], dtype=torch.float32),
                        torch.tensor(on_part, dtype=torch.float32))
            prior = torch.tensor(np.array([pose_from_angles(np.deg2rad(_type_angles_deg(k, rng)), self.frames)
                                           for k in kinds]), dtype=torch.float32)
        around = surround_centre(surface, sdf) if hold_faces is None else None  # hold parts have their own pull
        if around is not None:
            centre = tuple(None if a is None else torch.tensor(a, dtype=torch.float32) for a in around)
        off = torch.tensor([k == "pinch" for k in kinds], dtype=torch.float32)
        rot = torch.tensor(rot0, dtype=torch.float32, requires_grad=True)
        tr = torch.tensor(tr0, dtype=torch.float32, requires_grad=True)
        pose = torch.tensor(pose0, dtype=torch.float32, requires_grad=True)
        opt = torch.optim.Adam([{"params": [rot], "lr": cfg.lr_rot}, {"params": [tr], "lr": cfg.lr_transl},
                                {"params": [pose], "lr": cfg.lr_pose}])
        self._near = None
        for step in range(steps):
            self._step = step
            ramp = 1.0 if init is not None else min(1.0, 0.2 + step / (0.5 * steps))
            energy, _ = self.energy(rot, tr, pose, sdf, obj_pts, active, prior, pen_scale=ramp, hold=hold, off=off,
                                    centre=centre)
            opt.zero_grad()
            energy.sum().backward()
            opt.step()
        self._near = None
        with torch.no_grad():
            _, terms = self.energy(rot, tr, pose, sdf, obj_pts, active, prior, pen_scale=1.0, hold=hold, off=off,
                                   centre=centre)
        return {"global_orient": rot.detach().numpy(), "transl": tr.detach().numpy(),
                "hand_pose": pose.detach().numpy(), "kind": np.array(kinds),
                **{k: v.numpy() for k, v in terms.items()}}

    def _touching_pads(self, rot, tr, pose, sdf, within_cm: float = 1.0):
        """(active pads (n, C) float, grasp types): the pads of given grasps within ``within_cm`` of the surface
        (at least the thumb tip and one other fingertip, so the closure term has something to hold), and the type
        their digits suggest: power (palm or 4+ digits), pinch (2 digits), else precision."""
        with torch.no_grad():
            out = self.hand(global_orient=torch.tensor(rot, dtype=torch.float32),
                            hand_pose=torch.tensor(pose, dtype=torch.float32),
                            transl=torch.tensor(tr, dtype=torch.float32))
            near = (sdf(out.vertices[:, self.contact_ids]) * 100 <= within_cm).numpy()
        tips = {f: FINGER_JOINTS[f][-1] for f in FINGERS}
        near[:, np.isin(self.contact_joint, [tips["thumb"], tips["index"]])] |= ~near.any(1, keepdims=True)
        kinds = []
        for row in near:
            touched = {f for f in FINGERS if row[np.isin(self.contact_joint, FINGER_JOINTS[f])].any()}
            if not {"thumb"} & touched:
                row[self.contact_joint == tips["thumb"]] = True
                touched.add("thumb")
            if len(touched) < 2:
                row[self.contact_joint == tips["index"]] = True
                touched.add("index")
            palm = row[self.contact_joint == 0].any()
            kinds.append("power" if palm or len(touched) >= 4 else "pinch" if len(touched) == 2 else "precision")
        return torch.tensor(near, dtype=torch.float32), kinds

    def energy(self, rot, tr, pose, sdf, obj_pts, active, prior, pen_scale=1.0, hold=None, off=None, centre=None):
        """Per-candidate energy and its terms. ``hold`` = (points (H, 3) on the parts people hold, (B,) weights):
        the mean distance (cm) of the contact vertices to those points, for the candidates with weight 1. ``off``
        (B,): 1 for pinches, whose other fingers must keep ``PINCH_CLEARANCE`` off the surface."""
        cfg = self.cfg
        out = self.hand(global_orient=rot, hand_pose=pose, transl=tr)
        verts = out.vertices
        d_verts = sdf(verts) * 100  # cm
        contacts = verts[:, self.contact_ids]
        d_contact = sdf(contacts) * 100
        e_contact = ((d_contact + cfg.squeeze * 100).abs() * active).sum(1) / active.sum(1)
        e_pen = torch.relu(-d_verts - cfg.free_depth * 100).pow(2).sum(1)
        e_obj = self._object_in_hand(verts, obj_pts)
        e_self = self._self_penetration(out.keypoints)
        e_lim = limit_violation(pose, self.frames, self.limits).pow(2).sum((1, 2))
        e_fc = self._closure(contacts, active, sdf)
        e_prior = (pose - prior).pow(2).sum(1)
        total = (cfg.w_contact * e_contact + pen_scale * (cfg.w_pen * e_pen + cfg.w_obj_pen * e_obj)
                 + cfg.w_self * e_self + cfg.w_limits * e_lim + cfg.w_closure * e_fc + cfg.w_prior * e_prior)
        if off is not None and bool(off.any()):
            gap = torch.relu(PINCH_CLEARANCE * 100 - d_verts[:, self.pinch_off_ids])
            total = total + cfg.w_off * off * gap.pow(2).sum(1)
        if centre is not None and cfg.w_surround:
            e_surround = self._surround(contacts, active, centre)
            total = total + cfg.w_surround * e_surround
        if hold is not None:
            points, weight = hold
            e_hold = torch.cdist(contacts, points[None].expand(len(contacts), -1, -1)).min(2).values.mean(1) * 100
            total = total + cfg.w_hold * weight * e_hold
        terms = {"e_contact": e_contact.detach(), "e_pen": e_pen.detach(), "e_obj_pen": e_obj.detach(),
                 "e_self": e_self.detach(), "e_limits": e_lim.detach(), "e_closure": e_fc.detach(),
                 "max_depth_cm": torch.relu(-d_verts).max(1).values.detach()}
        return total, terms

    def _object_in_hand(self, verts, obj_pts):
        """Object points behind the nearest hand vertex's surface (cm^2, within 1 cm of the skin).

        The nearest-vertex search needs no gradient, so it runs under no_grad on a vertex subset.
        """
        normals = _vertex_normals(verts, self.faces_t)[:, self.skin_ids]
        verts = verts[:, self.skin_ids]
        if self._near is None or self._step % 4 == 0:  # neighbours move slowly: refresh every 4 steps
            with torch.no_grad():
                self._near = torch.cdist(obj_pts.expand(len(verts), -1, -1), verts).min(2)
        near_d, near_i = self._near
        nv = torch.gather(verts, 1, near_i[..., None].expand(-1, -1, 3))
        nn = torch.gather(normals, 1, near_i[..., None].expand(-1, -1, 3))
        depth = -((obj_pts - nv) * nn).sum(-1) * 100
        return (torch.relu(depth) * (near_d < 0.01)).pow(2).sum(1)

    def _self_penetration(self, keypoints):
        """Overlap of finger bone points of different fingers closer than a finger's width (cm^2)."""
        chains = [[0, 1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]]
        pts, owner = [], []
        for f, chain in enumerate(chains):
            start = 1 if f == 0 else 0  # the thumb chain starts at the wrist keypoint: skip it
            for a, b in zip(chain[start:], chain[start + 1:]):
                for t in (0.0, 0.5):
                    pts.append(keypoints[:, a] * (1 - t) + keypoints[:, b] * t)
                    owner.append(f)
            pts.append(keypoints[:, chain[-1]])
            owner.append(f)
        pts = torch.stack(pts, 1)
        owner = torch.tensor(owner)
        diff = owner[:, None] != owner[None, :]
        d = torch.cdist(pts, pts)
        return (torch.relu(1.7 - d * 100) * diff).pow(2).sum((1, 2)) / 2

    @staticmethod
    def _surround(contacts, active, centre):
        """|mean unit direction from the object's centre to the active pads|^2: 0 when they surround it, 1 when they
        all sit on one side. ``centre`` = (point (3,), axis (3,) or None): directions are taken across the axis line
        when given (a can: around it; friction holds along it), from the point otherwise (a ball)."""
        point, axis = centre
        r = contacts - point
        if axis is not None:
            r = r - (r @ axis)[..., None] * axis
        r = r / r.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        k = active.sum(1, keepdim=True)
        return ((active[..., None] * r).sum(1) / k).pow(2).sum(1)

    def _closure(self, contacts, active, sdf):
        """Force-closure proxy over the active pads: |mean surface normal|^2 + |mean torque|^2.

        Normals are those of the nearest surface (SDF gradient) whether or not the pad touches yet,
        so the term cannot be satisfied by letting go; the contact term pulls the pads on. The grid's normals carry no
        gradient: the force part only ranks candidates, the torque part moves the pads (hence ``_surround``).
        """
        normals = sdf.normal(contacts)
        k = active.sum(1, keepdim=True)
        force = (active[..., None] * normals).sum(1) / k
        centre = (active[..., None] * contacts).sum(1) / k
        torque = (active[..., None] * torch.cross(contacts - centre[:, None], normals, dim=-1)).sum(1) / k * 100
        return force.pow(2).sum(1) + 0.1 * torque.pow(2).sum(1)


def surround_centre(surface: np.ndarray, sdf=None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(centre (3,), long axis (3,) or None) that a hand holding the object surrounds, given its surface points; None
    when it is wider than ``SURROUND_SPAN`` across (a plate, a large ball, a big box: held at rims and edges) or flat
    and not elongated (a dish, a ring), or, given the object's ``sdf`` (an ``SDFGrid``), hollow at the centre (a bowl,
    a ring, a glass). The axis (unit) is given for an elongated object (a can, a phone, a handle: hands surround the
    axis), None for a compact one (a ball, a cube: they surround the centre). Principal axes of the points; extents
    along them."""
    centre = surface.mean(0)
    _, _, axes = np.linalg.svd(surface - centre, full_matrices=False)
    extent = np.ptp((surface - centre) @ axes.T, axis=0)  # along the principal axes, longest first
    if extent[1] > SURROUND_SPAN:
        return None
    if sdf is not None and float(sdf(torch.tensor(centre, dtype=torch.float32)[None])[0]) > 0:
        return None
    if extent[0] >= ELONGATED * extent[1]:
        return centre, axes[0]
    return None if extent[2] < FLAT * extent[1] else (centre, None)


def edge_anchors(mesh: trimesh.Trimesh, n: int, seed: int, min_angle_deg: float = EDGE_ANGLE_DEG):
    """(points (n, 3), directions (n, 3)) on the object's sharp edges (faces meeting at more than ``min_angle_deg``),
    each facing out along the bisector of its two faces; None when the object has no sharp edge (a ball)."""
    angles = mesh.face_adjacency_angles
    sharp = angles > np.radians(min_angle_deg)
    if not sharp.any():
        return None
    edges = mesh.face_adjacency_edges[sharp]
    a, b = mesh.vertices[edges[:, 0]], mesh.vertices[edges[:, 1]]
    length = np.linalg.norm(b - a, axis=1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(edges), size=n, p=length / length.sum())
    t = rng.random(n)[:, None]
    points = a[pick] + t * (b[pick] - a[pick])
    pair = mesh.face_adjacency[sharp][pick]
    bisector = mesh.face_normals[pair[:, 0]] + mesh.face_normals[pair[:, 1]]
    return points, bisector / np.maximum(np.linalg.norm(bisector, axis=1, keepdims=True), 1e-12)


def _vertex_normals(verts, faces):
    tri = verts[:, faces]
    fn = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    vn = torch.zeros_like(verts)
    for i in range(3):
        vn = vn.index_add(1, faces[:, i], fn)
    return vn / vn.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _rotvec(rot: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rot).as_rotvec()
