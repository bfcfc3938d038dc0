"""Where the add-on finds jhod_core: bundled inside the extension zip, or the development checkout.

The add-on only translates between Blender and jhod_core's NumPy paths; it holds no model math.
"""

# installed extension: build_addon.py puts a torch-free jhod_core inside the add-on
try:
    from .jhod_core.errors import HandModelError, JHODError
    from .jhod_core.hand import load_hand_data, topology
    from .jhod_core.hand.numpy_forward import forward, rodrigues
    from .jhod_core.hand.poses import named_pose
    from .jhod_core.sample_numpy import CANDIDATES, DEFAULT_DDIM_STEPS, MIRROR, NumpySampler, refine_result
except ImportError:  # running from a checkout (tests, `blender -b --python`)
    from jhod_core.errors import HandModelError, JHODError
    from jhod_core.hand import load_hand_data, topology
    from jhod_core.hand.numpy_forward import forward, rodrigues
    from jhod_core.hand.poses import named_pose
    from jhod_core.sample_numpy import CANDIDATES, DEFAULT_DDIM_STEPS, MIRROR, NumpySampler, refine_result

__all__ = ["CANDIDATES", "DEFAULT_DDIM_STEPS", "HandModelError", "JHODError", "MIRROR", "NumpySampler", "refine_result",
           "load_hand_data", "topology", "forward", "rodrigues", "named_pose"]
