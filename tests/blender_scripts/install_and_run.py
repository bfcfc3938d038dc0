"""Run in a fresh Python with bpy: install the built zip like a user, exercise it, print JSON.

Usage: python install_and_run.py ZIP  (BLENDER_USER_RESOURCES should point to a scratch folder)

What a stock Blender's Python lacks is blocked first: the development jhod_core (installed in this
environment), torch, SciPy, trimesh and smplx. The add-on must run on its bundled copy alone.
"""

import json
import sys

for _name in ("jhod_core", "torch", "scipy", "trimesh", "smplx"):
    sys.modules[_name] = None  # "import X" now raises ImportError

import bpy  # noqa: I001  (bpy first: it makes Blender's own modules importable)
import addon_utils

zip_path = sys.argv[-1]
out = {}
out["install"] = list(bpy.ops.extensions.package_install_files(
    filepath=zip_path, repo="user_default", enable_on_install=True, overwrite=True))
out["enabled"] = list(addon_utils.check("bl_ext.user_default.jhod_grasp"))
op = bpy.ops.jhod.add_hand
out["undo_flag"] = "UNDO" in bpy.types.JHOD_OT_add_hand.bl_options
out["panel_category"] = bpy.types.JHOD_PT_main.bl_category

before = {o.name for o in bpy.data.objects}
bpy.context.scene.jhod.pose = "fist"
out["add_hand"] = list(op())
added = [o for o in bpy.data.objects if o.name not in before]
out["added_types"] = sorted(o.type for o in added)
arm = next(o for o in added if o.type == "ARMATURE")
out["bones"] = [b.name for b in arm.data.bones]
out["modules"] = sorted(m for m, mod in sys.modules.items()
                       if mod is not None and m.split(".")[0] in ("torch", "smplx"))

prefs = bpy.context.preferences.addons["bl_ext.user_default.jhod_grasp"].preferences
prefs.mano_path = "/nonexistent/MANO_RIGHT.pkl"
before = len(bpy.data.objects), len(bpy.data.collections)
try:
    op()
    out["bad_mano"] = "no error"
except RuntimeError as exc:  # operator reports ERROR -> RuntimeError in background mode
    out["bad_mano"] = str(exc)
out["unchanged_after_error"] = (len(bpy.data.objects), len(bpy.data.collections)) == before
prefs.mano_path = ""

# the shipped model through the bundled NumPy backend (few steps: the contract, not the quality)
bpy.ops.mesh.primitive_cube_add(size=0.08, location=(0.1, 0.0, 0.05))
settings = bpy.context.scene.jhod
settings.num_grasps, settings.seed, settings.steps = 2, 0, 5
before = {o.name for o in bpy.data.objects}
out["generate"] = list(bpy.ops.jhod.generate_grasp())
out["generated_armatures"] = sum(o.type == "ARMATURE" for o in bpy.data.objects if o.name not in before)
settings.num_grasps = 1
before = {o.name for o in bpy.data.objects}
out["sample_hand_object"] = list(bpy.ops.jhod.sample_hand_object())
out["joint_types"] = sorted(o.type for o in bpy.data.objects if o.name not in before)
out["core_modules"] = sorted({m.rsplit(".", 1)[-1] for m, mod in sys.modules.items()
                              if mod is not None and ".jhod_grasp.jhod_core." in m})
print("JSON" + json.dumps(out))
