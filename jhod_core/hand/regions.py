"""Named vertex regions of a MANO-format hand: fingers, palm, and palmar contact pads.

Derived from the skinning weights and rest-pose normals, so they work for the open hand and a
real MANO alike. NumPy only.
"""

from __future__ import annotations

import numpy as np

from ..geometry.normals import vertex_normals
from .joint_limits import anatomical_frames
from .model_file import HandData
from .topology import FINGER_JOINTS


def _dominant_joint(data: HandData) -> np.ndarray:
    return data.weights.argmax(1)


def finger_vertex_ids(data: HandData) -> dict[str, np.ndarray]:
    """Vertices whose dominant joint belongs to each finger (for 'fingers in contact')."""
    dom = _dominant_joint(data)
    return {finger: np.where(np.isin(dom, joints))[0] for finger, joints in FINGER_JOINTS.items()}


def palmar_pads(data: HandData, min_alignment: float = 0.5) -> dict[int, np.ndarray]:
    """Joint -> vertices on the palmar side of that segment (0 = palm), in the right-hand frame.

    A vertex belongs to a segment's pad if the segment dominates its skinning and its rest normal
    points along the segment's flexion side (the direction the pad faces when grasping).
    """
    joints = data.rest_joints
    mirror = np.array([-1.0, 1.0, 1.0]) if data.side == "left" else np.ones(3)
    frames = anatomical_frames(joints * mirror)
    normals = vertex_normals(data.v_template, data.closed_faces) * mirror
    dom = _dominant_joint(data)
    pads = {}
    palmar = np.cross(frames[0][:, 2], frames[0][:, 0])  # bend x twist = index1's palmar normal
    for k in range(16):
        if k == 0:
            facing = palmar
        else:
            twist, bend = frames[k - 1][:, 0], frames[k - 1][:, 2]
            facing = np.cross(bend, twist)
        ids = np.where((dom == k) & (normals @ facing > min_alignment))[0]
        pads[k] = ids
    return pads
