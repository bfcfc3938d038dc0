"""Screenshot of the JHOD panel in a real Blender window (the README picture).

Run inside a Blender with a window (not the bpy module, which cannot draw its UI), e.g. on a
virtual screen:

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 BLENDER_USER_RESOURCES=/tmp/jhod_user blender --factory-startup \
        --python docs/screenshots/make_panel_screenshot.py -- dist/jhod_grasp-0.1.0.zip MESH.ply OUT.png

It installs the zip with Blender's extension installer, imports the mesh, runs "Generate Grasp on
Selection" on it with the built-in NumPy backend, shows the first grasp, opens the sidebar on the JHOD
tab, closes the splash (xdotool), saves a
screenshot of the whole window and quits. Prints JSON with what happened (operator result, the
created objects, the seconds the operator took).
"""

import json
import os
import shutil
import subprocess
import sys
import time

import bpy  # noqa: I001
import addon_utils

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from window_steps import run_steps  # noqa: E402

ZIP, MESH, OUT = sys.argv[sys.argv.index("--") + 1:][:3]
report = {"blender": bpy.app.version_string}


def setup():
    report["install"] = list(bpy.ops.extensions.package_install_files(
        filepath=ZIP, repo="user_default", enable_on_install=True, overwrite=True))
    report["enabled"] = list(addon_utils.check("bl_ext.user_default.jhod_grasp"))
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    bpy.ops.wm.ply_import(filepath=MESH)
    target = bpy.context.selected_objects[0]
    target.name = "Mug"
    bpy.context.view_layer.objects.active = target
    settings = bpy.context.scene.jhod
    settings.num_grasps, settings.seed = 4, 0
    half = target.dimensions.x / 2
    bpy.context.scene.cursor.location = (half, 0.0, 0.0)  # steered: hold the mug's side, a wrap
    settings.steer_target, settings.steer_type = "CURSOR", "power"
    start = time.perf_counter()
    report["generate"] = list(bpy.ops.jhod.generate_grasp("EXEC_DEFAULT"))
    report["generate_seconds"] = round(time.perf_counter() - start, 3)
    report["objects"] = sorted(o.name for o in bpy.data.objects)
    report["show"] = list(bpy.ops.jhod.show_grasp(direction=1))  # browse: one grasp at a time
    report["keep"] = list(bpy.ops.jhod.keep_grasp())
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                space = area.spaces.active
                space.show_region_ui = True
                space.shading.type = "SOLID"
                space.shading.color_type = "MATERIAL"  # the skin and object colours
                space.overlay.show_floor = True
                region = next(r for r in area.regions if r.type == "WINDOW")
                with bpy.context.temp_override(window=window, area=area, region=region):
                    bpy.ops.object.select_all(action="DESELECT")
                    target.select_set(True)
                    bpy.data.objects["jhod_grasp_1_skin"].select_set(True)  # frame object and hand
                    bpy.ops.view3d.view_selected()
                    bpy.ops.view3d.zoom(delta=-1)
                    bpy.ops.object.select_all(action="DESELECT")
                    target.select_set(True)
    return 1.0  # let the UI draw before the screenshot


def show_tab():
    if shutil.which("xdotool") and os.environ.get("DISPLAY"):
        subprocess.run(["xdotool", "key", "Escape"])  # close the splash screen
    # The sidebar opens on its last tab; make JHOD the active one (4.2+ has a settable category).
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                for region in area.regions:
                    if region.type == "UI":
                        try:
                            region.active_panel_category = "JHOD"
                            report["tab"] = region.active_panel_category
                        except (AttributeError, TypeError) as exc:
                            report["tab"] = f"not settable: {exc}"
                area.tag_redraw()
    return 1.0


def shoot():
    if shutil.which("xdotool") and os.environ.get("DISPLAY"):  # the splash can open late on a busy machine
        subprocess.run(["xdotool", "key", "Escape"])
        time.sleep(0.5)
    # Blender's own screenshot reads the GL front buffer, which is black under software GL on a
    # virtual screen; ImageMagick's X grab sees what the X server shows.
    if shutil.which("import") and os.environ.get("DISPLAY"):
        report["screenshot"] = subprocess.run(["import", "-window", "root", OUT]).returncode
    else:
        window = bpy.context.window_manager.windows[0]
        with bpy.context.temp_override(window=window):
            report["screenshot"] = list(bpy.ops.screen.screenshot(filepath=OUT))
    print("JSON" + json.dumps(report), flush=True)
    bpy.ops.wm.quit_blender()


def report_error(exc):
    report["error"] = repr(exc)
    print("JSON" + json.dumps(report), flush=True)


run_steps([setup, show_tab, lambda: 1.0, shoot], on_error=report_error)
