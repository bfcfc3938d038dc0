"""Add-on preferences and the per-scene settings shown in the JHOD panel."""

import bpy

from .core import DEFAULT_DDIM_STEPS


def addon_preferences(context) -> "JHODPreferences":
    return context.preferences.addons[__package__].preferences


class JHODPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend: bpy.props.EnumProperty(
        name="Backend",
        items=[("NUMPY", "Built-in (NumPy, CPU)", "Run the shipped model inside Blender; no extra installs"),
               ("EXTERNAL", "External Python", "Run jhod_core with torch in another Python (CUDA, your checkpoints)")],
        default="NUMPY")
    python_path: bpy.props.StringProperty(name="Python", subtype="FILE_PATH",
                                          description="Interpreter with jhod_core and torch installed")
    checkpoint_path: bpy.props.StringProperty(name="Checkpoint", subtype="FILE_PATH",
                                              description="Model weights; empty = the shipped model")
    mano_path: bpy.props.StringProperty(
        name="MANO file", subtype="FILE_PATH",
        description="Optional MANO_RIGHT.pkl/.npz (or its folder); empty = the built-in open hand")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "backend")
        if self.backend == "EXTERNAL":
            layout.prop(self, "python_path")
        layout.prop(self, "checkpoint_path")
        layout.prop(self, "mano_path")


class JHODSceneSettings(bpy.types.PropertyGroup):
    num_grasps: bpy.props.IntProperty(name="Grasps", default=4, min=1, max=64)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    steps: bpy.props.IntProperty(name="Steps", default=DEFAULT_DDIM_STEPS, min=1, max=1000,
                                 description="Denoising steps (fewer = faster)")
    # 2, not jhod_core's 3: click -> 4 hands stays under a second in Blender (docs/speed.md); with 3 the panel
    # gives exactly the grasps of `jhod sample` for the same seed
    candidates: bpy.props.IntProperty(
        name="Candidates", default=2, min=1, max=8,
        description="Samples per grasp; the best-holding after refinement are kept (more = steadier grasps, slower)")
    side: bpy.props.EnumProperty(name="Hand", items=[("right", "Right", ""), ("left", "Left", "")], default="right")
    steer_target: bpy.props.EnumProperty(
        name="Hold", default="ANY",
        items=[("ANY", "Anywhere", "The model chooses where to hold the object"),
               ("CURSOR", "Near 3D Cursor", "Hold the object near the 3D cursor"),
               ("FACES", "Selected Faces", "Hold the object at its selected faces (select them in Edit Mode)")])
    steer_approach: bpy.props.EnumProperty(
        name="Approach", default="ANY",
        items=[("ANY", "Any", "The model chooses the side the hand comes from"),
               ("VIEW", "From View", "The hand comes from the viewer (the palm faces away from the view)"),
               ("-Z", "From Above", "Moving down (-Z), palm down"), ("Z", "From Below", "Moving up (+Z)"),
               ("-X", "From +X", "Moving along -X"), ("X", "From -X", "Moving along +X"),
               ("-Y", "From +Y", "Moving along -Y"), ("Y", "From -Y", "Moving along +Y")])
    steer_type: bpy.props.EnumProperty(
        name="Type", default="ANY",
        items=[("ANY", "Any", "Any kind of grasp"), ("power", "Power", "A wrap: the palm touches the object"),
               ("precision", "Precision", "Three or more fingertips, no palm"),
               ("pinch", "Pinch", "Thumb and index finger; the other fingers kept off")])
    character: bpy.props.StringProperty(name="Character", description="The character's armature (object name)")
    character_preset: bpy.props.EnumProperty(
        name="Rig", default="makehuman",
        items=[("makehuman", "MakeHuman", "MakeHuman / MPFB bone names (wrist.R, finger2-1.R, ...)"),
               ("rigify", "Rigify", "Rigify's generated human rig (FK finger controls, hand_fk/hand_ik)"),
               ("mixamo", "Mixamo", "Mixamo bone names (mixamorig:RightHand, ...)"),
               ("custom", "Custom", "A mapping in a Blender text (Save Mapping starts one from a preset)")])
    mapping_text: bpy.props.StringProperty(name="Mapping", description="Blender text holding a custom mapping")
    pose: bpy.props.EnumProperty(name="Pose", items=[("relaxed", "Relaxed", ""), ("flat", "Flat", ""),
                                                     ("fist", "Fist", ""), ("pinch", "Pinch", "")],
                                 default="relaxed")


_classes = (JHODPreferences, JHODSceneSettings)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.jhod = bpy.props.PointerProperty(type=JHODSceneSettings)


def unregister():
    del bpy.types.Scene.jhod
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
