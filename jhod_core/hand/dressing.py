"""Render dressing of a hand mesh: a short, rounded forearm stub in place of the flat wrist cap.

The hand models end in a flat cap at the wrist (MANO's 14 closing faces, the open hand's fan), which shows from
behind in a render. ``forearm_stub`` replaces the cap faces by a few rings that continue the wrist along the forearm,
taper, and close in a rounded end. The hand's own vertices keep their indices (the stub's follow them), so the
first V vertices of the dressed mesh are still the model's; the stub moves rigidly with the wrist joint.
NumPy only (the Blender add-on builds its hands with it).
"""

from __future__ import annotations

import numpy as np

# along the forearm from the cap (metres) and the ring's size relative to the cap: a rounded end
STUB_RINGS = ((0.010, 1.0), (0.020, 0.98), (0.027, 0.86), (0.031, 0.62), (0.033, 0.32))


def cap_faces(vertices: np.ndarray, faces: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(F,) bool: the faces of the flat wrist cap (facing along the forearm, at the wrist end of the hand)."""
    axis = _forearm_axis(rest_joints)
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-15)
    reach = (vertices - rest_joints[0]) @ axis
    centre_reach = (tri.mean(1) - rest_joints[0]) @ axis
    return (np.abs(normal @ axis) > 0.8) & (centre_reach > reach.max() - 0.01)


def forearm_stub(vertices: np.ndarray, faces: np.ndarray, rest_joints: np.ndarray):
    """``(vertices (V + E, 3), faces (F', 3))``: the hand with its wrist cap replaced by a rounded stub.

    Raises ValueError when the cap's rim is not one closed loop (an unexpected hand topology)."""
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    cap = cap_faces(vertices, faces, rest_joints)
    if not cap.any():
        raise ValueError("the hand mesh has no flat wrist cap to replace")
    loop = _rim_loop(faces[cap])
    axis = _forearm_axis(rest_joints)
    rim = vertices[loop]
    centre = rim.mean(0)
    rings = [centre + along * axis + scale * (rim - centre) for along, scale in STUB_RINGS]
    tip = centre + (STUB_RINGS[-1][0] + 0.004) * axis
    n, base = len(loop), len(vertices)
    index = [np.asarray(loop)] + [base + k * n + np.arange(n) for k in range(len(rings))]
    new = []
    for a, b in zip(index[:-1], index[1:]):
        a1, b1 = np.roll(a, -1), np.roll(b, -1)
        new += [np.stack([a, a1, b1], 1), np.stack([a, b1, b], 1)]
    pole = base + len(rings) * n
    last = index[-1]
    new.append(np.stack([last, np.roll(last, -1), np.full(n, pole)], 1))
    new = np.concatenate(new)
    out_vertices = np.vstack([vertices, *rings, tip[None]])
    # wind the stub like the rest of the hand: its first face must point away from the forearm axis
    tri = out_vertices[new[0]]
    outward = tri.mean(0) - centre
    outward -= (outward @ axis) * axis
    if np.cross(tri[1] - tri[0], tri[2] - tri[0]) @ outward < 0:
        new = new[:, ::-1]
    return out_vertices, np.vstack([faces[~cap], new])


def _forearm_axis(rest_joints: np.ndarray) -> np.ndarray:
    """Unit vector from the middle knuckle through the wrist: where the forearm continues."""
    axis = rest_joints[0] - rest_joints[4]
    return axis / np.linalg.norm(axis)


def _rim_loop(cap: np.ndarray) -> list[int]:
    """The cap's boundary (edges used by one cap face) as one ordered loop, in the cap faces' winding."""
    edges = {}
    for a, b, c in cap:
        for u, v in ((a, b), (b, c), (c, a)):
            edges[(int(u), int(v))] = True
    rim = {u: v for (u, v) in edges if (v, u) not in edges}
    if not rim:
        raise ValueError("the wrist cap has no rim")
    start = next(iter(rim))
    loop, current = [start], rim[start]
    while current != start:
        if current not in rim or len(loop) > len(rim):
            raise ValueError("the wrist cap's rim is not one closed loop")
        loop.append(current)
        current = rim[current]
    if len(loop) != len(rim):
        raise ValueError("the wrist cap's rim is not one closed loop")
    # the cap faces run around the rim one way; the hand's faces next to it, and so the stub's, the other way
    return loop[::-1]
