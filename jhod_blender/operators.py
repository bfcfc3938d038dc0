"""Operators: each validates first, changes the scene only on success, and is undoable in one step."""

import bpy
import numpy as np

from . import backend, rig, selection
from .core import JHODError, Steering, load_hand_data, named_pose
from .preferences import addon_preferences

GRASP_SET_KEY = "jhod_grasp_set"      # on the parent collection: True
GRASP_INDEX_KEY = "jhod_grasp_index"  # on each grasp collection: 1-based
SHOWN_KEY = "jhod_shown"              # on the parent collection: index of the shown grasp, -1 = all


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
        arm, mesh = rig.build_hand(data, f"jhod_{settings.side}", collection, meters_per_unit=unit, dressed=True)
        cursor = context.scene.cursor.location
        rig.apply_pose(arm, mesh, data, [0.0, 0.0, 0.0], pose, [c * unit for c in cursor], meters_per_unit=unit)
        for obj in context.selected_objects:
            obj.select_set(False)
        arm.select_set(True)
        context.view_layer.objects.active = arm
        self.report({"INFO"}, f"Added {settings.side} hand ({data.num_vertices} vertices)")
        return {"FINISHED"}


def unique_collection_name(name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)``...: the first not taken (Blender would append ``.001``)."""
    candidate, n = name, 1
    while candidate in bpy.data.collections:
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def new_grasp_set(context, name: str, object_name: str):
    """The parent collection of one generation (browsed with show/keep)."""
    parent = bpy.data.collections.new(unique_collection_name(name))
    parent[GRASP_SET_KEY] = True
    parent[SHOWN_KEY] = -1
    parent["jhod_object"] = object_name
    context.scene.collection.children.link(parent)
    return parent


def add_grasp_hand(context, parent, data, result: dict, i: int, unit: float, prefs, object_name: str,
                   extra_objects=(), number: int | None = None):
    """Grasp i of `result` (world metres) as a rigged hand in its own collection "Grasp <number> - <set name>"
    (default i + 1) under `parent`, with `extra_objects` (e.g. its generated object) in that collection."""
    settings = context.scene.jhod
    number = i + 1 if number is None else number
    go, hp, tr = (np.asarray(result[k][i], dtype=np.float64) for k in ("global_orient", "hand_pose", "transl"))
    # the number first: the outliner cuts long names, and "Grasp 2 - ..." is what an artist browses by
    collection = bpy.data.collections.new(unique_collection_name(f"Grasp {number} - {parent.name}"))
    collection[GRASP_INDEX_KEY] = number
    parent.children.link(collection)
    for obj in extra_objects:
        collection.objects.link(obj)
    arm, mesh = rig.build_hand(data, f"jhod_grasp_{number}", collection, meters_per_unit=unit, dressed=True)
    rig.apply_pose(arm, mesh, data, go, hp, tr, meters_per_unit=unit)
    arm["jhod_global_orient"] = go.tolist()
    arm["jhod_hand_pose"] = hp.tolist()
    arm["jhod_transl"] = tr.tolist()
    arm["jhod_seed"] = int(settings.seed)
    arm["jhod_steps"] = int(settings.steps)
    arm["jhod_grasp_index"] = number
    arm["jhod_object"] = object_name
    arm["jhod_backend"] = prefs.backend
    return arm


def _select_only(context, obj):
    for other in context.selected_objects:
        other.select_set(False)
    if obj is not None:
        obj.select_set(True)
        context.view_layer.objects.active = obj


class _SamplingOperator:
    """Validate, then sample step by step, then build. Clicked in the UI it runs modally: a progress
    bar, Esc cancels (nothing is added); run from a script (`execute`) it blocks. The scene changes
    only in `build`, after sampling succeeded, so one undo step removes the whole result."""

    bl_options = {"REGISTER", "UNDO"}

    def prepare(self, context):  # -> backend.SamplingJob (raises JHODError; changes nothing)
        raise NotImplementedError

    def _settings(self, context, action: str):
        """Scene settings; remembers preferences and unit scale; checks the mode."""
        self._prefs = addon_preferences(context)
        self._unit = scene_meters_per_unit(context.scene)
        if context.mode != "OBJECT":
            raise JHODError(f"Switch to Object Mode to {action}")
        return context.scene.jhod

    def build(self, context, result) -> str:  # -> message for the status bar
        raise NotImplementedError

    def execute(self, context):
        try:
            job = self.prepare(context)
            result = job.run()
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, self.build(context, result))
        return {"FINISHED"}

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        try:
            self._job = self.prepare(context)
        except JHODError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.001, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        context.workspace.status_text_set(f"{self.bl_label}: sampling... (Esc to cancel)")
        return {"RUNNING_MODAL"}

    def _stop(self, context):
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)

    def modal(self, context, event):
        if event.type == "ESC":
            self._job.cancel()
            self._stop(context)
            self.report({"WARNING"}, f"{self.bl_label} cancelled: nothing was added")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            done = self._job.step()
        except JHODError as exc:
            self._stop(context)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.window_manager.progress_update(int(100 * self._job.fraction))
        if not done:
            return {"RUNNING_MODAL"}
        self._stop(context)
        self.report({"INFO"}, self.build(context, self._job.result))
        return {"FINISHED"}


AXES = {"X": (1.0, 0.0, 0.0), "-X": (-1.0, 0.0, 0.0), "Y": (0.0, 1.0, 0.0), "-Y": (0.0, -1.0, 0.0),
        "Z": (0.0, 0.0, 1.0), "-Z": (0.0, 0.0, -1.0)}


def view_direction(context):
    """The direction the 3D viewport looks in (world), or None without a viewport (background mode)."""
    region = getattr(context, "region_data", None)
    if region is None and context.screen is not None:
        area = next((a for a in context.screen.areas if a.type == "VIEW_3D"), None)
        region = area.spaces.active.region_3d if area is not None else None
    if region is None:
        return None
    return np.array(region.view_rotation.to_matrix(), dtype=np.float64) @ np.array([0.0, 0.0, -1.0])


def selected_faces_centre(meshes, unit: float) -> np.ndarray:
    """Area-weighted centre (world metres) of the faces selected in Edit Mode on the meshes; JHODError if none."""
    total, weight = np.zeros(3), 0.0
    for obj in meshes:
        world = np.array(obj.matrix_world, dtype=np.float64)
        for polygon in obj.data.polygons:
            if polygon.select:
                centre = world[:3, :3] @ np.array(polygon.center) + world[:3, 3]
                total += centre * polygon.area
                weight += polygon.area
    if weight <= 0.0:
        raise JHODError("Hold: Selected Faces needs faces selected on the object (select them in Edit Mode)")
    return total / weight * unit


def scene_steering(context, meshes, unit: float) -> Steering:
    """The panel's steering (where to hold, approach, grasp type) in world metres; JHODError when it cannot be
    met (no faces selected, From View without a viewport)."""
    settings = context.scene.jhod
    near = approach = None
    if settings.steer_target == "CURSOR":
        near = np.array(context.scene.cursor.location, dtype=np.float64) * unit
    elif settings.steer_target == "FACES":
        near = selected_faces_centre(meshes, unit)
    if settings.steer_approach == "VIEW":
        approach = view_direction(context)
        if approach is None:
            raise JHODError("Approach: From View needs a 3D viewport; pick an axis instead")
    elif settings.steer_approach in AXES:
        approach = AXES[settings.steer_approach]
    return Steering(near=near, approach=approach,
                    grasp_type=None if settings.steer_type == "ANY" else settings.steer_type)


class JHOD_OT_generate_grasp(_SamplingOperator, bpy.types.Operator):
    """Sample grasps on the selected mesh(es) and add one rigged hand per grasp, each in its own collection"""

    bl_idname = "jhod.generate_grasp"
    bl_label = "Generate Grasp on Selection"
    bl_options = {"REGISTER", "UNDO"}

    def prepare(self, context):
        settings = self._settings(context, "generate grasps")
        prefs = self._prefs
        vertices, triangles, self._meshes = selection.selection_mesh(context, self._unit)
        backend.check_backend(prefs)
        self._data = load_hand(context, settings.side)
        steering = scene_steering(context, self._meshes, self._unit)
        return backend.start_sampler((vertices, triangles), settings.num_grasps, settings.seed, settings.steps, prefs,
                                     settings.side, settings.candidates, steering)

    def build(self, context, result) -> str:
        meshes = self._meshes
        target = context.active_object if context.active_object in meshes else meshes[0]
        parent = new_grasp_set(context, f"JHOD grasps on {target.name}", target.name)
        arms = [add_grasp_hand(context, parent, self._data, result, i, self._unit, self._prefs, target.name)
                for i in range(len(result["transl"]))]
        _select_only(context, arms[0] if arms else None)
        return f"Added {len(arms)} grasp(s) on {target.name} (seed {context.scene.jhod.seed})"


OBJECT_MATERIAL = "JHOD Object"


def object_material():
    """The shared material of generated objects (made once per file): a light, slightly glossy grey-blue."""
    material = bpy.data.materials.get(OBJECT_MATERIAL)
    if material is None:
        material = bpy.data.materials.new(OBJECT_MATERIAL)
        material.diffuse_color = (0.45, 0.52, 0.62, 1.0)
        if material.node_tree is None:
            material.use_nodes = True
        bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        bsdf.inputs["Base Color"].default_value = (0.45, 0.52, 0.62, 1.0)
        bsdf.inputs["Roughness"].default_value = 0.4
    return material


PAIR_SPACING_M = 0.35  # metres between generated hand-object pairs, along +x from the 3D cursor


class JHOD_OT_sample_hand_object(_SamplingOperator, bpy.types.Operator):
    """Sample hands and objects together: each pair is a generated object mesh with a rigged hand holding it"""

    bl_idname = "jhod.sample_hand_object"
    bl_label = "Sample Hand+Object"
    bl_options = {"REGISTER", "UNDO"}

    def prepare(self, context):
        settings = self._settings(context, "sample hands and objects")
        prefs = self._prefs
        backend.check_backend(prefs)
        self._data = load_hand(context, settings.side)
        return backend.start_joint_sampler(settings.num_grasps, settings.seed, settings.steps, prefs)

    def build(self, context, result) -> str:
        from . import surfacing
        from .core import MIRROR, points_to_mesh

        settings, unit = context.scene.jhod, self._unit
        cursor = np.array(context.scene.cursor.location, dtype=np.float64) * unit  # metres
        parent = new_grasp_set(context, f"JHOD hand+object samples (seed {settings.seed})", "")
        arms = []
        # the objects are surfaced in the model's frame (metres), the right hands refined and chosen on them; a left
        # pair is the mirror image (x -> -x) of that right pair; placed at cursor + i * spacing, the hand follows
        meshes = [points_to_mesh(points) for points in result["object_points"]]
        pairs = backend.pair_hands(backend.weights_dir(self._prefs),
                                   {k: np.asarray(result[k]) for k in backend.RESULT_KEYS}, meshes,
                                   int(settings.seed), int(settings.steps), settings.side)
        for i, ((vertices, triangles), pair) in enumerate(zip(meshes, pairs)):
            offset = cursor + np.array([i * PAIR_SPACING_M, 0.0, 0.0])
            if settings.side == "left":
                vertices, triangles = vertices * MIRROR, triangles[:, ::-1]
            name = f"JHOD object {i + 1} (seed {settings.seed})"
            mesh = surfacing.mesh_from_arrays(vertices / unit, triangles, name)
            mesh.shade_smooth()
            mesh.materials.append(object_material())
            obj = bpy.data.objects.new(name, mesh)
            obj.location = offset / unit
            obj["jhod_generated_object"] = True
            pair["transl"] = pair["transl"] + offset
            arms.append(add_grasp_hand(context, parent, self._data, pair, 0, unit, self._prefs, obj.name,
                                       extra_objects=[obj], number=i + 1))
        _select_only(context, arms[0] if arms else None)
        return f"Added {len(arms)} hand+object pair(s) (seed {settings.seed})"


def grasp_set(context):
    """The grasp set (parent collection) of the active object, else the newest one in the scene; or None."""
    sets = [c for c in context.scene.collection.children_recursive if c.get(GRASP_SET_KEY)]
    obj = context.active_object
    if obj is not None:
        for s in sets:
            if any(obj.name in child.all_objects for child in s.children):
                return s
    return sets[-1] if sets else None


def _grasps(parent):
    return sorted((c for c in parent.children if GRASP_INDEX_KEY in c), key=lambda c: c[GRASP_INDEX_KEY])


def _show_only(grasps, shown):
    for k, collection in enumerate(grasps):
        hidden = shown is not None and k != shown
        collection.hide_viewport = hidden
        collection.hide_render = hidden


class JHOD_OT_show_grasp(bpy.types.Operator):
    """Show the previous/next grasp of the current grasp set, hiding the others"""

    bl_idname = "jhod.show_grasp"
    bl_label = "Show Grasp"
    bl_options = {"REGISTER", "UNDO"}

    direction: bpy.props.IntProperty(name="Direction", default=1, min=-1, max=1)

    def execute(self, context):
        parent = grasp_set(context)
        grasps = _grasps(parent) if parent is not None else []
        if not grasps:
            self.report({"ERROR"}, "No generated grasps in this scene: use Generate Grasp on Selection first")
            return {"CANCELLED"}
        current = int(parent.get(SHOWN_KEY, -1))
        step = 1 if self.direction >= 0 else -1
        if current < 0 or current >= len(grasps):
            shown = 0 if step > 0 else len(grasps) - 1
        else:
            shown = (current + step) % len(grasps)
        parent[SHOWN_KEY] = shown
        _show_only(grasps, shown)
        self.report({"INFO"}, f"Showing {grasps[shown].name} ({shown + 1} of {len(grasps)})")
        return {"FINISHED"}


class JHOD_OT_keep_grasp(bpy.types.Operator):
    """Keep the shown grasp and delete the other grasps of its set"""

    bl_idname = "jhod.keep_grasp"
    bl_label = "Keep Shown Grasp"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        parent = grasp_set(context)
        grasps = _grasps(parent) if parent is not None else []
        if not grasps:
            self.report({"ERROR"}, "No generated grasps in this scene: use Generate Grasp on Selection first")
            return {"CANCELLED"}
        shown = int(parent.get(SHOWN_KEY, -1))
        if len(grasps) == 1:
            shown = 0
        if not 0 <= shown < len(grasps):
            self.report({"ERROR"}, "Pick a grasp first with the arrow buttons (several are shown)")
            return {"CANCELLED"}
        kept = grasps[shown]
        for collection in grasps:
            if collection is kept:
                continue
            for obj in list(collection.all_objects):
                obj_data = obj.data
                bpy.data.objects.remove(obj, do_unlink=True)
                if obj_data is not None and obj_data.users == 0:
                    (bpy.data.armatures if isinstance(obj_data, bpy.types.Armature) else bpy.data.meshes).remove(
                        obj_data)
            bpy.data.collections.remove(collection)
        parent[SHOWN_KEY] = 0
        _show_only([kept], None)
        self.report({"INFO"}, f"Kept {kept.name}")
        return {"FINISHED"}


_classes = (JHOD_OT_add_hand, JHOD_OT_generate_grasp, JHOD_OT_sample_hand_object, JHOD_OT_show_grasp,
            JHOD_OT_keep_grasp)


register, unregister = bpy.utils.register_classes_factory(_classes)
