"""MANO's joint tree, names and keypoint order: the facts every hand file shares.

Sources: ../shared/reference/hand_model_facts.md sections 1.1-1.2 (smplx joint names, manopth
keypoint order). NumPy only, so Blender can import it.
"""

import numpy as np

JOINT_NAMES = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)
PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)
NUM_JOINTS = 16

# Fingertip order used by the `tip_vertex_ids` array of a hand file and by keypoints 16..20
# before reordering: thumb, index, middle, ring, pinky.
TIP_NAMES = ("thumb", "index", "middle", "ring", "pinky")
# Real MANO's fingertip vertices (manopth/ObMan convention), used when a MANO file carries none.
MANO_TIP_VERTEX_IDS = np.array([745, 317, 444, 556, 673], dtype=np.int64)

# 21 keypoints = 16 joints + 5 tips (appended as 16..20 in TIP_NAMES order), reordered to the
# OpenPose/FreiHAND order: 0 wrist; 1-4 thumb; 5-8 index; 9-12 middle; 13-16 ring; 17-20 pinky.
KEYPOINT_ORDER = np.array(
    [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20], dtype=np.int64
)
KEYPOINT_NAMES = tuple(
    ["wrist"]
    + [f"{f}{i}" for f in ("thumb", "index", "middle", "ring", "pinky") for i in ("1", "2", "3", "_tip")]
)

# Joints of each finger (chain from the palm outwards), used by limits, contact and rigs.
FINGER_JOINTS = {
    "thumb": (13, 14, 15),
    "index": (1, 2, 3),
    "middle": (4, 5, 6),
    "ring": (10, 11, 12),
    "pinky": (7, 8, 9),
}

# Real MANO's 14 wrist-closing faces (manotorch / OakInk hand_mesh_watertight.obj), right hand.
MANO_CLOSING_FACES = np.array(
    [[92, 38, 122], [234, 92, 122], [239, 234, 122], [279, 239, 122], [215, 279, 122],
     [215, 122, 118], [215, 118, 117], [215, 117, 119], [215, 119, 120], [215, 120, 108],
     [215, 108, 79], [215, 79, 78], [215, 78, 121], [214, 215, 121]],
    dtype=np.int64,
)
