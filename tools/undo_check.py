"""Ctrl+Z after each JHOD operator restores the scene exactly: checked in a real Blender window.

The bpy module has no window and no undo stack, so this runs in a Blender binary on a virtual screen
(`tools/real_blender_check.sh` does it in Debian's Blender 4.3):

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 BLENDER_USER_RESOURCES=/tmp/jhod_user blender --factory-startup \
        --python tools/undo_check.py -- dist/jhod_grasp-0.1.0.zip MESH.ply

It installs the zip, imports the mesh, and for each operator (Generate Grasp on Selection, browse, Keep, Fit
Fingers, Adjust Fingers, Add Approach, Mirror Hand, Add Reference Character, Save Mapping, Apply to Character,
Sample Hand+Object, Add Hand) records the scene, runs the operator as the UI does, presses undo once (`ed.undo`, what
Ctrl+Z calls) and records the scene again: objects (name, type, transform, parent, hidden, evaluated vertex
positions), collections (children, objects, visibility) and the datablock counts must be what they were before.
Prints one JSON line per operator and a final verdict ``JSON{"undo_ok": ...}``.
"""

import hashlib
import json
import os
import sys

import bpy  # noqa: I001
import addon_utils
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from window_steps import next_step, run_steps  # noqa: E402

ZIP, MESH = sys.argv[sys.argv.index("--") + 1:][:2]
results = []


def window_override():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return bpy.context.temp_override(window=window, area=area, region=region)


def scene_state() -> dict:
    """Everything an undo must bring back, as plain values (vertex positions hashed)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    objects = {}
    for obj in bpy.data.objects:
        entry = {"type": obj.type, "matrix": np.round(np.array(obj.matrix_world), 7).tolist(),
                 "parent": obj.parent.name if obj.parent else None, "hide": obj.hide_get(),
                 "collections": sorted(c.name for c in obj.users_collection)}
        if obj.type == "MESH":
            evaluated = obj.evaluated_get(depsgraph).to_mesh()
            co = np.empty(len(evaluated.vertices) * 3)
            evaluated.vertices.foreach_get("co", co)
            obj.evaluated_get(depsgraph).to_mesh_clear()
            entry["vertices"] = hashlib.sha1(np.round(co, 6).tobytes()).hexdigest()
        objects[obj.name] = entry
    collections = {c.name: {"children": sorted(x.name for x in c.children),
                            "objects": sorted(o.name for o in c.objects), "hide_viewport": c.hide_viewport,
                            "hide_render": c.hide_render, "props": sorted(k for k in c.keys())}
                   for c in bpy.data.collections}
    counts = {name: len(getattr(bpy.data, name)) for name in ("objects", "meshes", "armatures", "collections",
                                                               "materials", "node_groups", "actions", "texts")}
    poses = {o.name: np.round([list(b.rotation_quaternion) + list(b.location) for b in o.pose.bones], 6).tolist()
             for o in bpy.data.objects if o.type == "ARMATURE"}
    return {"objects": objects, "collections": collections, "counts": counts, "poses": poses,
            "frame": bpy.context.scene.frame_current,
            "selected": sorted(o.name for o in bpy.context.selected_objects)}


def difference(a: dict, b: dict) -> list[str]:
    out = []
    for key in a:
        if a[key] != b[key]:
            if isinstance(a[key], dict):
                names = sorted(set(a[key]) ^ set(b[key])) or sorted(k for k in a[key] if a[key][k] != b[key].get(k))
                out.append(f"{key}: {names[:6]}")
            else:
                out.append(f"{key}: {a[key]} != {b[key]}")
    return out


def check(name, run, modal=False, changes=True):
    """Run one operator as the UI does (``undo=True``: a Python call alone pushes no undo step; the modal ones are
    invoked and left to finish on their timer, as after a click), then Ctrl+Z once."""
    state = {}

    def undo_and_compare():
        after = scene_state()
        with window_override():
            bpy.ops.ed.undo()
        undone = scene_state()
        before = state["before"]
        entry = {"operator": name, "result": state["result"], "changed": bool(difference(before, after)),
                 "expected_change": changes, "undo_exact": not difference(before, undone),
                 "difference": difference(before, undone) or (difference(before, after) if not changes else [])}
        results.append(entry)
        print("JSON" + json.dumps(entry), flush=True)
        with window_override():
            bpy.ops.ed.redo()  # back to the state after the operator, so the next step can build on it

    def wait():
        ops = bpy.context.window_manager.operators
        if len(ops) == state["registered"] or ops[-1].bl_idname != state["idname"]:
            return 0.2  # still running
        state["result"] = ["FINISHED"]
        undo_and_compare()
        next_step()  # chain on
        return None

    def step():
        state["before"] = scene_state()
        state["registered"] = len(bpy.context.window_manager.operators)
        with window_override():
            result = list(run("INVOKE_DEFAULT" if modal else "EXEC_DEFAULT"))
        if modal and result == ["RUNNING_MODAL"]:
            state["idname"] = name.split("/")[0]
            bpy.app.timers.register(wait, first_interval=0.2)
            return None  # `wait` continues the chain
        state["result"] = result
        undo_and_compare()
        return 0.5
    return step


def setup():
    list(bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True,
                                                  overwrite=True))
    assert addon_utils.check("bl_ext.user_default.jhod_grasp")[1], "the add-on did not enable"
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    with window_override():
        bpy.ops.wm.ply_import(filepath=MESH)
        bpy.ops.ed.undo_push(message="imported")
    target = bpy.context.selected_objects[0]
    target.name = "Mug"
    bpy.context.view_layer.objects.active = target
    bpy.context.scene.jhod.num_grasps = 3
    with window_override():
        bpy.ops.ed.undo_push(message="set up")
    return 0.5


def select_mug():
    with window_override():
        bpy.ops.object.select_all(action="DESELECT")
    bpy.data.objects["Mug"].select_set(True)
    bpy.context.view_layer.objects.active = bpy.data.objects["Mug"]
    with window_override():
        bpy.ops.ed.undo_push(message="select")
    return 0.5


def finish():
    ok = bool(results) and all(r["undo_exact"] and r["changed"] == r["expected_change"]
                               and r["result"] == ["FINISHED"] for r in results)
    print("JSON" + json.dumps({"undo_ok": ok, "blender": bpy.app.version_string, "operators": len(results)}),
          flush=True)
    bpy.ops.wm.quit_blender()


def select_hand():
    """The first JHOD hand rig, selected and active (what the editing operators work on)."""
    hand = next(o for o in bpy.data.objects if o.type == "ARMATURE" and "jhod_side" in o)
    with window_override():
        bpy.ops.object.select_all(action="DESELECT")
    hand.select_set(True)
    bpy.context.view_layer.objects.active = hand
    with window_override():
        bpy.ops.ed.undo_push(message="select hand")
    return 0.5


def place_character():
    """The character in front of the mug (the mug in front of its chest, within reach), picked in the panel."""
    character = next(o for o in bpy.data.objects if o.type == "ARMATURE" and "jhod_character_preset" in o)
    character.location = (0.26, 0.30, -1.12)
    bpy.context.scene.jhod.character = character.name
    with window_override():
        bpy.ops.ed.undo_push(message="place character")
    return select_hand()


steps = [setup,
              check("JHOD_OT_generate_grasp", lambda how: bpy.ops.jhod.generate_grasp(how, True), modal=True),
              check("JHOD_OT_show_grasp", lambda how: bpy.ops.jhod.show_grasp(how, True, direction=1)),
              check("JHOD_OT_keep_grasp", lambda how: bpy.ops.jhod.keep_grasp(how, True)),
              select_hand,
              check("JHOD_OT_fit_fingers", lambda how: bpy.ops.jhod.fit_fingers(how, True)),
              check("JHOD_OT_adjust_fingers", lambda how: bpy.ops.jhod.adjust_fingers(how, True, close=0.4)),
              check("JHOD_OT_add_approach", lambda how: bpy.ops.jhod.add_approach(how, True)),
              check("JHOD_OT_mirror_hand", lambda how: bpy.ops.jhod.mirror_hand(how, True)),
              check("JHOD_OT_mirror_hand/back", lambda how: bpy.ops.jhod.mirror_hand(how, True)),
              check("JHOD_OT_add_character", lambda how: bpy.ops.jhod.add_character(how, True)),
              place_character,
              check("JHOD_OT_save_mapping", lambda how: bpy.ops.jhod.save_mapping(how, True)),
              check("JHOD_OT_apply_to_character", lambda how: bpy.ops.jhod.apply_to_character(how, True)),
              select_mug,
              check("JHOD_OT_generate_grasp/again", lambda how: bpy.ops.jhod.generate_grasp(how, True), modal=True),
              check("JHOD_OT_sample_hand_object", lambda how: bpy.ops.jhod.sample_hand_object(how, True), modal=True),
              check("JHOD_OT_add_hand", lambda how: bpy.ops.jhod.add_hand(how, True)),
              finish]


run_steps(steps, on_error=lambda exc: print("JSON" + json.dumps({"error": repr(exc), "undo_ok": False}),
                                           flush=True))
