"""Run in a fresh Python with bpy: install the built zip like a user, exercise it, print JSON.

Usage: python install_and_run.py ZIP  (BLENDER_USER_RESOURCES should point to a scratch folder)
"""

import json
import sys

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
out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "smplx"))

prefs = bpy.context.preferences.addons["bl_ext.user_default.jhod_grasp"].preferences
prefs.mano_path = "/nonexistent/MANO_RIGHT.pkl"
before = len(bpy.data.objects), len(bpy.data.collections)
try:
    op()
    out["bad_mano"] = "no error"
except RuntimeError as exc:  # operator reports ERROR -> RuntimeError in background mode
    out["bad_mano"] = str(exc)
out["unchanged_after_error"] = (len(bpy.data.objects), len(bpy.data.collections)) == before
print("JSON" + json.dumps(out))
