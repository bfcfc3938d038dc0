"""Render Conditioning Maps: the maps of the headless batch (``render.render_view``: rgb, depth 8-bit and metric,
camera-space normals, edges, hand/object mask, one mask per object, OpenPose hand keypoints + JSON) from the
scene's active camera at the current frame.

The artist's scene is never touched: the visible meshes are baked (modifiers, armature and subdivision applied) into
a temporary scene in metres with a copy of the camera, rendered there, and the temporary scene is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from . import render
from .core import JHODError, forward
from .editing import SIDE_KEY, hand_rig, world_params
from .operators import load_hand, scene_meters_per_unit


def frame_dir(directory: str, frame: int) -> Path:
    if not directory or (directory.startswith("//") and not bpy.data.filepath):
        raise JHODError("Save the .blend file first, or choose an absolute output folder for the maps")
    path = bpy.path.abspath(directory)
    return Path(path) / f"frame_{frame:04d}"


def render_maps(context, directory: str, engine: str, samples: int) -> Path:
    """Write the maps of the active camera and frame into ``directory/frame_NNNN``; returns that folder."""
    scene = context.scene
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        raise JHODError("The scene has no active camera: add one and make it active (View > Cameras > Set Active)")
    if camera.data.type != "PERSP":
        raise JHODError(f"Camera '{camera.name}' is {camera.data.type.lower()}: the maps need a perspective camera")
    out = frame_dir(directory, scene.frame_current)
    try:
        render.intrinsics(scene, camera)  # the camera and image settings the maps can describe, before any work
    except ValueError as exc:
        raise JHODError(str(exc)) from None
    visible = [o for o in context.view_layer.objects if o.type == "MESH" and o.visible_get() and not o.hide_render]
    if not visible:
        raise JHODError("Nothing to render: no visible mesh objects in this view layer")
    unit = scene_meters_per_unit(scene)
    width, height = render.render_size(scene)
    hands = []
    for obj in visible:
        found = hand_rig(obj)
        if found is not None:
            arm = found[0]
            data = load_hand(context, arm[SIDE_KEY])
            go, hp, tr = world_params(arm, data, unit)
            hands.append((forward(data, go[None], hp[None], tr[None])[2][0], arm[SIDE_KEY]))
    out.mkdir(parents=True, exist_ok=True)
    depsgraph = context.evaluated_depsgraph_get()
    to_metres = Matrix.Scale(unit, 4)
    temp = bpy.data.scenes.new("JHOD maps (temporary)")
    made_meshes, made_objects = [], []
    try:
        render.configure_scene(temp, engine, width, height, samples, camera=camera)
        cam = temp.camera
        cam.matrix_world = to_metres @ camera.matrix_world
        copies = []
        for obj in visible:
            mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph), depsgraph=depsgraph)
            mesh.transform(to_metres @ obj.matrix_world)
            made_meshes.append(mesh)
            copy = bpy.data.objects.new(obj.name, mesh)
            copy[render.SOURCE_NAME] = obj.name
            temp.collection.objects.link(copy)
            made_objects.append(copy)
            is_hand = hand_rig(obj) is not None
            render.prepare_render_object(copy, render.HAND_LABEL if is_hand else render.OBJECT_LABEL,
                                         render.SKIN_SRGB if is_hand else render.OBJECT_SRGB,
                                         sharp_angle_deg=None if is_hand else 30.0)
            copies.append(copy)
        centre = np.mean([np.array(c.matrix_world.translation) for c in copies], axis=0)
        vertices = np.concatenate([np.array([v.co for v in c.data.vertices]) for c in copies]) if copies else centre
        z_ref = float(np.linalg.norm(vertices.mean(0) - np.array(cam.matrix_world.translation)))
        stats = render.render_view(temp, cam, copies, out, z_ref, hands=hands, object_masks=True)
        K = render.intrinsics(temp, cam)
        ext = render.extrinsics(cam)
        info = {"frame": scene.frame_current, "camera": camera.name, "engine": engine, "width": width,
                "height": height, "K": K.tolist(), **{k: m.tolist() for k, m in ext.items()},
                "units": "metres (scene unit scale applied)",
                "objects": [{"name": o.name, "mask": f"masks/{bpy.path.clean_name(o.name)}.png",
                             "kind": "hand" if hand_rig(o) is not None else "object"} for o in visible],
                "hands": [side for _, side in hands], **stats}
        (out / "view.json").write_text(json.dumps(info, indent=1))
    finally:
        for copy in made_objects:
            bpy.data.objects.remove(copy, do_unlink=True)
        for mesh in made_meshes:
            bpy.data.meshes.remove(mesh)
        for obj in list(temp.collection.objects):  # the camera and the key light
            data = obj.data
            bpy.data.objects.remove(obj, do_unlink=True)
            if data is not None and data.users == 0:
                (bpy.data.cameras if isinstance(data, bpy.types.Camera) else bpy.data.lights).remove(data)
        world = temp.world
        bpy.data.scenes.remove(temp)
        if world is not None and world.users == 0:
            bpy.data.worlds.remove(world)
    return out


class JHOD_OT_render_maps(bpy.types.Operator):
    """Render conditioning maps (rgb, depth, normals, edges, masks, OpenPose hand keypoints) from the active camera
    at the current frame into the output folder; the scene is not changed"""

    bl_idname = "jhod.render_maps"
    bl_label = "Render Conditioning Maps"
    bl_options = {"REGISTER"}

    directory: bpy.props.StringProperty(name="Output", subtype="DIR_PATH", default="//jhod_maps/")
    engine: bpy.props.EnumProperty(name="Engine", default="BLENDER_WORKBENCH",
                                   items=[("BLENDER_WORKBENCH", "Workbench", "Fast, flat-lit rgb"),
                                          ("CYCLES", "Cycles", "Path-traced rgb (slower)")])
    samples: bpy.props.IntProperty(name="Samples", default=16, min=1, max=4096, description="Cycles rgb samples")

    def execute(self, context):
        if context.mode != "OBJECT":
            self.report({"ERROR"}, "Switch to Object Mode to render conditioning maps")
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_begin(0, 1)
        try:
            out = render_maps(context, self.directory, self.engine, self.samples)
        except (JHODError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        self.report({"INFO"}, f"Wrote conditioning maps to {out}")
        return {"FINISHED"}


_classes = (JHOD_OT_render_maps,)


register, unregister = bpy.utils.register_classes_factory(_classes)
