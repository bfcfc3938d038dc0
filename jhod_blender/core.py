"""Where the add-on finds jhod_core: bundled inside the extension zip, or the development checkout.

The add-on only translates between Blender and jhod_core's torch-free pipeline; it holds no model math.
"""

# installed extension: build_addon.py puts the torch-free jhod_core inside the add-on
try:
    from .jhod_core import pipeline
    from .jhod_core.errors import HandModelError, JHODError
    from .jhod_core.geometry.limits import MAX_OBJECT_SIZE, MIN_OBJECT_SIZE, check_object_size
    from .jhod_core.io.atomic import atomic_write
    from .jhod_core.io.grasp_shards import load_grasps
    from .jhod_core.io.ply import ply_bytes
    from .jhod_core.geometry.sampling import sample_triangles
    from .jhod_core.geometry.surfacing import points_to_mesh
    from .jhod_core.hand import load_hand_data, topology
    from .jhod_core.hand.adjust import adjust_pose
    from .jhod_core.hand.dressing import forearm_stub
    from .jhod_core.hand.model_file import mirror_grasp
    from .jhod_core.hand.params import join_params
    from .jhod_core.steering import Steering, palm_directions
    from .jhod_core.refine import ObjectSurface
    from .jhod_core.retarget import check_mapping as retarget_check_mapping, close_fingers, preset_mapping, retarget
    from .jhod_core.hand.numpy_forward import forward, pose_correctives, rodrigues
    from .jhod_core.hand.poses import named_pose

    load_mesh = validate_mesh = None  # no trimesh in Blender: batch.py reads mesh files with Blender's importers
except ImportError:  # running from a checkout (tests, `blender -b --python`)
    from jhod_core import pipeline
    from jhod_core.errors import HandModelError, JHODError
    from jhod_core.geometry.limits import MAX_OBJECT_SIZE, MIN_OBJECT_SIZE, check_object_size
    from jhod_core.io.atomic import atomic_write
    from jhod_core.io.grasp_shards import load_grasps
    from jhod_core.io.ply import ply_bytes
    from jhod_core.geometry.sampling import sample_triangles
    from jhod_core.geometry.surfacing import points_to_mesh
    from jhod_core.hand import load_hand_data, topology
    from jhod_core.hand.adjust import adjust_pose
    from jhod_core.hand.dressing import forearm_stub
    from jhod_core.hand.model_file import mirror_grasp
    from jhod_core.hand.params import join_params
    from jhod_core.steering import Steering, palm_directions
    from jhod_core.refine import ObjectSurface
    from jhod_core.retarget import check_mapping as retarget_check_mapping, close_fingers, preset_mapping, retarget
    from jhod_core.hand.numpy_forward import forward, pose_correctives, rodrigues
    from jhod_core.hand.poses import named_pose

    try:  # with trimesh, batch.py reads mesh files exactly as `jhod sample` does
        from jhod_core.geometry.mesh import load_mesh, validate_mesh
    except ImportError:
        load_mesh = validate_mesh = None

CANDIDATES, DEFAULT_DDIM_STEPS, MIRROR = pipeline.CANDIDATES, pipeline.DEFAULT_DDIM_STEPS, pipeline.MIRROR

__all__ = ["adjust_pose", "atomic_write", "CANDIDATES", "check_object_size", "close_fingers", "DEFAULT_DDIM_STEPS",
           "forearm_stub", "forward", "HandModelError", "JHODError", "join_params", "load_grasps", "load_hand_data",
           "load_mesh", "MAX_OBJECT_SIZE", "MIN_OBJECT_SIZE", "MIRROR", "mirror_grasp", "named_pose", "ObjectSurface",
           "palm_directions", "pipeline", "ply_bytes", "points_to_mesh", "pose_correctives", "preset_mapping",
           "retarget", "retarget_check_mapping", "rodrigues", "sample_triangles", "Steering", "topology",
           "validate_mesh"]
