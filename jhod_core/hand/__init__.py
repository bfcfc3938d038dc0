"""The MANO-format hand: file contract, NumPy forward (torch-free) and the torch `HandModel`.

`from jhod_core.hand import HandModel` imports torch and smplx; everything else here is NumPy only.
"""

from .model_file import HandData, load_hand_data, mirror_grasp, mirror_to_left
from .numpy_forward import forward as numpy_forward
from .topology import JOINT_NAMES, KEYPOINT_NAMES, PARENTS

__all__ = ["HandData", "HandModel", "HandOutput", "load_hand_data", "mirror_grasp", "mirror_to_left", "numpy_forward",
           "JOINT_NAMES", "KEYPOINT_NAMES", "PARENTS"]


def __getattr__(name):
    if name in ("HandModel", "HandOutput"):
        from ..torch import hand_model

        return getattr(hand_model, name)
    raise AttributeError(name)
