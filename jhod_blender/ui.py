"""The N-panel tab "JHOD" in the 3D viewport."""

import bpy


class JHOD_PT_main(bpy.types.Panel):
    bl_label = "JHOD Grasp Studio"
    bl_idname = "JHOD_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "JHOD"

    def draw(self, context):
        settings = context.scene.jhod
        layout = self.layout
        layout.prop(settings, "side")
        box = layout.box()
        box.label(text="Hand")
        box.prop(settings, "pose")
        box.operator("jhod.add_hand", icon="VIEW_PAN")
        box = layout.box()
        box.label(text="Grasp generation")
        box.prop(settings, "num_grasps")
        box.prop(settings, "seed")
        box.prop(settings, "steps")
        box.prop(settings, "candidates")
        steer = box.column(align=True)
        steer.label(text="Steering")
        steer.prop(settings, "steer_target")
        steer.prop(settings, "steer_approach")
        steer.prop(settings, "steer_type")
        box.operator("jhod.generate_grasp", icon="HAND")
        row = box.row(align=True)
        row.operator("jhod.show_grasp", text="", icon="TRIA_LEFT").direction = -1
        row.operator("jhod.keep_grasp", text="Keep")
        row.operator("jhod.show_grasp", text="", icon="TRIA_RIGHT").direction = 1
        box = layout.box()
        box.label(text="Edit hand")
        box.operator("jhod.fit_fingers", icon="SNAP_FACE")
        box.operator("jhod.adjust_fingers", icon="VIEW_PAN")
        row = box.row(align=True)
        row.operator("jhod.mirror_hand", icon="MOD_MIRROR")
        row.operator("jhod.add_approach", icon="ANIM")
        box = layout.box()
        box.label(text="Character")
        box.operator("jhod.add_character", icon="ARMATURE_DATA")
        box.prop_search(settings, "character", context.scene, "objects")
        row = box.row(align=True)
        row.prop(settings, "character_preset")
        row.operator("jhod.save_mapping", text="", icon="TEXT")
        if settings.character_preset == "custom":
            box.prop_search(settings, "mapping_text", bpy.data, "texts")
        box.operator("jhod.apply_to_character", icon="OUTLINER_OB_ARMATURE")
        box = layout.box()
        box.label(text="Joint generation")
        box.operator("jhod.sample_hand_object", icon="MESH_MONKEY")
        box = layout.box()
        box.label(text="Image conditioning")
        box.operator("jhod.render_maps", icon="RENDER_STILL")


_classes = (JHOD_PT_main,)


register, unregister = bpy.utils.register_classes_factory(_classes)
