"""Operators: each validates first, changes the scene only on success, and is undoable in one step."""

import bpy

from . import rig
from .core import JHODError, load_hand_data, named_pose
from .preferences import addon_preferences


def scene_meters_per_unit(scene) -> float:
    """Metres in one Blender unit (Scene > Units > Unit Scale)."""
    return scene.unit_settings.scale_length if scene.unit_settings.system != "NONE" else 1.0


def load_hand(context, side: str):
    path = addon_preferences(context).mano_path.strip() or None
    return load_hand_data(bpy.path.abspath(path) if path else None, side)


class JHOD_OT_add_hand(bpy.types.Operator):
    """Add a rigged, skinned hand in a named pose at the 3D cursor"""

    bl_idname = "jhod.add_hand"
    bl_label = "Add Hand"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.jhod
        try:
            data = load_hand(context, settings.side)
            pose = named_pose(settings.pose, data)
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        unit = scene_meters_per_unit(context.scene)
        collection = bpy.data.collections.new(f"JHOD hand ({settings.side}, {settings.pose})")
        context.scene.collection.children.link(collection)
        arm, mesh = rig.build_hand(data, f"jhod_{settings.side}", collection, meters_per_unit=unit)
        cursor = context.scene.cursor.location
        rig.apply_pose(arm, mesh, data, [0.0, 0.0, 0.0], pose, [c * unit for c in cursor], meters_per_unit=unit)
        for obj in context.selected_objects:
            obj.select_set(False)
        arm.select_set(True)
        context.view_layer.objects.active = arm
        self.report({"INFO"}, f"Added {settings.side} hand ({data.num_vertices} vertices)")
        return {"FINISHED"}


_classes = (JHOD_OT_add_hand,)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
