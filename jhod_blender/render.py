"""Headless rendering of a hand-object scene: RGB plus conditioning maps for image generators.

Blender side of `batch.py` (and usable from the add-on): scene setup for Workbench or Cycles,
orbit cameras, camera matrices, and the passes. Every conditioning map comes from *data passes*
rendered to 32-bit EXR with the Raw view transform and no anti-aliasing (one sample at each pixel
centre), then post-processed in NumPy; no compositor, so the same code runs on Blender 4.2 .. 5.0.

* Cycles: view-layer material override. Pass A emits the shading normal turned into camera space
  (Vector Transform world -> camera); pass B emits (view z depth, object pass index, 0).
* Workbench (no shader nodes): Flat lighting + Attribute colour; before each pass the script
  writes the same quantities into a per-corner float colour attribute `jhod_data` of each mesh
  (normals and depth are computed from the evaluated, posed meshes), and the rasteriser
  interpolates them. Depth is stored relative to the view's centre distance so Workbench's
  half-float buffers keep about 0.05 mm.

Conventions (see docs/batch_rendering.md): metres; camera-space normals in Blender's camera frame
(x right, y up, z towards the viewer); K in pixels with pixel centres at integer coordinates
(OpenCV); images top row first.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from . import maps
from .maps import (HAND_LABEL, MAP_FILES, OBJECT_LABEL, detect_edges, encode_depth, encode_mask,  # noqa: F401
                   encode_normals, decode_normals, write_png)

ENGINES = ("BLENDER_WORKBENCH", "CYCLES")
DATA_ATTRIBUTE = "jhod_data"
SOURCE_NAME = "jhod_source_name"  # on a baked copy: the name of the artist's object it stands for
SKIN_SRGB = (0.87, 0.68, 0.58)
OBJECT_SRGB = (0.50, 0.60, 0.75)
BACKGROUND_SRGB = (0.92, 0.92, 0.92)
LENS_MM, SENSOR_MM = 50.0, 36.0


def srgb_to_linear(c):
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# ---------------------------------------------------------------------------------------------
# scene

def reset_scene(engine: str, resolution: int, samples: int = 16, seed: int = 0) -> bpy.types.Scene:
    """Empty factory scene set up for `engine` at resolution x resolution; unit scale 1 (metres)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    configure_scene(scene, engine, resolution, resolution, samples, seed)
    return scene


def configure_scene(scene, engine: str, width: int, height: int, samples: int = 16, seed: int = 0,
                    camera=None) -> bpy.types.Scene:
    """Set up `scene` (e.g. a fresh one next to the artist's) for rendering: engine, resolution, metres, the light
    grey world, a key light, and a camera ("jhod_camera", or `camera`'s data copied in)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    scene.unit_settings.system = "METRIC"
    scene.unit_settings.scale_length = 1.0
    scene.render.engine = engine
    scene.render.resolution_x, scene.render.resolution_y = int(width), int(height)
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.use_border = False
    scene["jhod_rgb_samples"] = int(samples)
    world = bpy.data.worlds.new("jhod_world")
    scene.world = world
    world.color = tuple(srgb_to_linear(BACKGROUND_SRGB))
    _world_background(world, srgb_to_linear(BACKGROUND_SRGB))
    if engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.seed = int(seed)
        scene.cycles.use_adaptive_sampling = False
        if "jhod_data_normal" not in bpy.data.materials:
            _data_materials()
    cam_data = camera.data.copy() if camera is not None else bpy.data.cameras.new("jhod_camera")
    cam = bpy.data.objects.new("jhod_camera", cam_data)
    scene.collection.objects.link(cam)
    if camera is None:
        cam.data.lens = LENS_MM
        cam.data.sensor_fit = "HORIZONTAL"
        cam.data.sensor_width = SENSOR_MM
    else:
        cam.matrix_world = camera.matrix_world.copy()
    scene.camera = cam
    sun = bpy.data.objects.new("jhod_key", bpy.data.lights.new("jhod_key", "SUN"))
    sun.data.energy = 4.0
    sun.data.angle = math.radians(10)
    scene.collection.objects.link(sun)
    return scene


def _view_layer(scene):
    return scene.view_layers[0]


def _node_tree(idblock):
    if idblock.node_tree is None:  # 4.x: node trees only after use_nodes (deprecated, on by default in 5.0)
        idblock.use_nodes = True
    return idblock.node_tree


def _world_background(world, rgb, ambient: float = 0.35):
    """Camera rays see `rgb`; lighting rays see a dimmer copy (soft fill light for Cycles)."""
    nt = _node_tree(world)
    nt.nodes.clear()
    seen = nt.nodes.new("ShaderNodeBackground")
    seen.inputs["Color"].default_value = (*rgb, 1.0)
    fill = nt.nodes.new("ShaderNodeBackground")
    fill.inputs["Color"].default_value = (*rgb, 1.0)
    fill.inputs["Strength"].default_value = ambient
    path = nt.nodes.new("ShaderNodeLightPath")
    mix = nt.nodes.new("ShaderNodeMixShader")
    out = nt.nodes.new("ShaderNodeOutputWorld")
    nt.links.new(path.outputs["Is Camera Ray"], mix.inputs[0])
    nt.links.new(fill.outputs[0], mix.inputs[1])
    nt.links.new(seen.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Surface"])


def _emission_material(name):
    mat = bpy.data.materials.new(name)
    nt = _node_tree(mat)
    nt.nodes.clear()
    emission = nt.nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(emission.outputs[0], out.inputs["Surface"])
    return mat, nt, emission


def _data_materials():
    """Cycles override materials: camera-space normal; (view z, pass index, 0)."""
    mat, nt, emission = _emission_material("jhod_data_normal")
    geometry = nt.nodes.new("ShaderNodeNewGeometry")
    transform = nt.nodes.new("ShaderNodeVectorTransform")
    transform.vector_type, transform.convert_from, transform.convert_to = "NORMAL", "WORLD", "CAMERA"
    nt.links.new(geometry.outputs["Normal"], transform.inputs[0])
    nt.links.new(transform.outputs[0], emission.inputs["Color"])
    mat, nt, emission = _emission_material("jhod_data_depth")
    camera = nt.nodes.new("ShaderNodeCameraData")
    info = nt.nodes.new("ShaderNodeObjectInfo")
    combine = nt.nodes.new("ShaderNodeCombineXYZ")
    nt.links.new(camera.outputs["View Z Depth"], combine.inputs[0])
    nt.links.new(info.outputs["Object Index"], combine.inputs[1])
    nt.links.new(combine.outputs[0], emission.inputs["Color"])


def surface_material(name: str, srgb) -> bpy.types.Material:
    """Plain diffuse material: Principled BSDF for Cycles, viewport colour for Workbench."""
    mat = bpy.data.materials.new(name)
    lin = tuple(srgb_to_linear(srgb))
    mat.diffuse_color = (*lin, 1.0)
    mat.roughness = 0.6
    nt = _node_tree(mat)
    bsdf = next((n for n in nt.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled"), None)
    if bsdf is None:
        nt.nodes.clear()
        bsdf = nt.nodes.new("ShaderNodeBsdfPrincipled")
        out = nt.nodes.new("ShaderNodeOutputMaterial")
        nt.links.new(bsdf.outputs[0], out.inputs["Surface"])
    bsdf.inputs["Base Color"].default_value = (*lin, 1.0)
    bsdf.inputs["Roughness"].default_value = 0.6
    return mat


def prepare_render_object(obj: bpy.types.Object, label: int, srgb, sharp_angle_deg: float | None = 30.0):
    """Give a mesh object its label (pass index), a plain material, smooth shading and the data attribute.

    `sharp_angle_deg`: edges sharper than this stay sharp (box corners); None = smooth everywhere.
    """
    me = obj.data
    me.shade_smooth()
    if sharp_angle_deg is not None:
        me.set_sharp_from_angle(angle=math.radians(sharp_angle_deg))
    me.materials.clear()
    me.materials.append(surface_material(f"{obj.name}_surface", srgb))
    obj.pass_index = int(label)
    obj["jhod_label"] = int(label)
    if DATA_ATTRIBUTE not in me.color_attributes:
        me.color_attributes.new(DATA_ATTRIBUTE, "FLOAT_COLOR", "CORNER")
    me.color_attributes.active_color_name = DATA_ATTRIBUTE
    me.color_attributes.render_color_index = me.color_attributes.active_color_index
    return obj


def add_mesh_object(scene, name: str, vertices: np.ndarray, faces: np.ndarray, label: int = OBJECT_LABEL,
                    srgb=OBJECT_SRGB, sharp_angle_deg: float | None = 30.0) -> bpy.types.Object:
    """Triangle mesh from arrays (metres, object frame = world frame)."""
    vertices = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)
    me = bpy.data.meshes.new(name)
    me.vertices.add(len(vertices))
    me.vertices.foreach_set("co", vertices.ravel())
    me.loops.add(faces.size)
    me.loops.foreach_set("vertex_index", faces.ravel())
    me.polygons.add(len(faces))
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.update(calc_edges=True)
    obj = bpy.data.objects.new(name, me)
    scene.collection.objects.link(obj)
    return prepare_render_object(obj, label, srgb, sharp_angle_deg)


# ---------------------------------------------------------------------------------------------
# cameras

def half_fov() -> float:
    return math.atan(SENSOR_MM / 2 / LENS_MM)


def orbit_views(center, radius: float, n_views: int = 3, elevation_deg: float = 30.0,
                azimuth0_deg: float = 0.0, margin: float = 1.05) -> list[dict]:
    """Cameras on a circle around `center` (z up) that fit a sphere of `radius` into the image."""
    distance = radius / math.sin(half_fov()) * margin
    center = np.asarray(center, dtype=np.float64)
    views = []
    for v in range(n_views):
        az = azimuth0_deg + 360.0 * v / n_views
        a, e = math.radians(az), math.radians(elevation_deg)
        location = center + distance * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
        views.append(dict(azimuth_deg=az % 360.0, elevation_deg=elevation_deg, distance_m=distance,
                          location=location, target=center, radius_m=radius))
    return views


def place_camera(scene, view: dict) -> bpy.types.Object:
    cam = scene.camera
    location = Vector(view["location"].tolist())
    cam.location = location
    cam.rotation_mode = "QUATERNION"
    cam.rotation_quaternion = (Vector(view["target"].tolist()) - location).to_track_quat("-Z", "Y")
    d, r = view["distance_m"], view["radius_m"]
    cam.data.clip_start = max(1e-4, 0.5 * (d - r))
    cam.data.clip_end = 2.0 * (d + r)
    # key light from the camera side, above and to the left
    sun = scene.objects.get("jhod_key")
    if sun is not None:
        sun.rotation_mode = "QUATERNION"
        cam_rot = cam.rotation_quaternion
        offset = Vector((-0.5, 0.7, 1.0)).normalized()  # camera frame: up-left, towards the viewer
        sun.rotation_quaternion = (cam_rot @ offset).to_track_quat("Z", "Y")
    _view_layer(scene).update()
    return cam


def intrinsics(scene, cam) -> np.ndarray:
    """3x3 K in pixels, OpenCV convention: pixel (u, v) has its centre at integer (u, v), u right, v down. Any
    image size, sensor fit and lens shift of a perspective camera with square pixels."""
    w, h = render_size(scene)
    data = cam.data
    if data.type != "PERSP":
        raise ValueError(f"camera '{cam.name}' is {data.type.lower()}: conditioning maps need a perspective camera")
    if scene.render.pixel_aspect_x != scene.render.pixel_aspect_y:
        raise ValueError("conditioning maps need square pixels (Render > Format > Aspect 1:1)")
    fit = data.sensor_fit
    if fit == "AUTO":
        fit, sensor = ("HORIZONTAL" if w >= h else "VERTICAL"), data.sensor_width
    else:
        sensor = data.sensor_width if fit == "HORIZONTAL" else data.sensor_height
    f = data.lens / sensor * (w if fit == "HORIZONTAL" else h)
    longest = max(w, h)  # Blender's lens shift is in units of the longer side
    return np.array([[f, 0.0, (w - 1) / 2.0 - data.shift_x * longest],
                     [0.0, f, (h - 1) / 2.0 + data.shift_y * longest], [0.0, 0.0, 1.0]])


def render_size(scene) -> tuple[int, int]:
    """(width, height) in pixels of the rendered image (resolution percentage applied)."""
    pct = scene.render.resolution_percentage / 100.0
    return int(scene.render.resolution_x * pct), int(scene.render.resolution_y * pct)


def extrinsics(cam) -> dict:
    """World -> camera 4x4 matrices.

    Blender camera: x right, y up, looks along -z. OpenCV: x right, y down, z forward.
    """
    c2w = np.array(cam.matrix_world, dtype=np.float64)
    w2c = np.linalg.inv(c2w)
    return dict(world_to_camera_blender=w2c, world_to_camera_opencv=np.diag([1.0, -1.0, -1.0, 1.0]) @ w2c,
                camera_to_world_blender=c2w)


def project(points, K, world_to_camera_opencv) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) pixel coordinates (u, v) and (N,) depths of world points."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cam = p @ world_to_camera_opencv[:3, :3].T + world_to_camera_opencv[:3, 3]
    uvw = cam @ K.T
    return uvw[:, :2] / uvw[:, 2:3], cam[:, 2]


# ---------------------------------------------------------------------------------------------
# passes

def _set_output(scene, path: Path, fmt: str):
    settings = scene.render.image_settings
    if fmt == "EXR":
        settings.file_format = "OPEN_EXR"
        settings.color_mode = "RGBA"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"  # temporary files: speed over size
    else:
        settings.file_format = "PNG"
        settings.color_mode = "RGB"
        settings.color_depth = "8"
        settings.compression = 15
    scene.render.filepath = str(path)
    scene.render.use_file_extension = False


def render_rgb(scene, path: Path) -> None:
    """The colour image: plain skin and object materials, light grey background, Standard view transform."""
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.film_transparent = False
    _view_layer(scene).material_override = None
    if scene.render.engine == "CYCLES":
        c = scene.cycles
        c.samples = int(scene.get("jhod_rgb_samples", 16))
        # builds without OpenImageDenoise (e.g. Debian's Blender) offer no denoiser: render noisy
        has_oidn = "OPENIMAGEDENOISE" in {i.identifier for i in c.bl_rna.properties["denoiser"].enum_items}
        c.use_denoising = has_oidn and bool(scene.get("jhod_denoise", True))
        if c.use_denoising:
            c.denoiser = "OPENIMAGEDENOISE"
            c.denoising_quality, c.denoising_prefilter = "BALANCED", "FAST"  # ACCURATE/HIGH: 3x slower on CPU
        c.pixel_filter_type, c.filter_width = "BLACKMAN_HARRIS", 1.5
        c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 4, 2, 2
        c.transmission_bounces, c.volume_bounces, c.transparent_max_bounces = 0, 0, 2
        scene.objects["jhod_key"].hide_render = False
    else:
        s = scene.display.shading
        s.light, s.color_type = "STUDIO", "MATERIAL"
        s.show_cavity, s.cavity_type = True, "WORLD"
        s.show_shadows, s.show_object_outline, s.show_specular_highlight = False, False, True
        s.show_xray, s.show_backface_culling = False, False
        scene.display.render_aa = "8"
    _set_output(scene, path, "PNG")
    bpy.ops.render.render(write_still=True, scene=scene.name)


def _read_exr(path: Path) -> np.ndarray:
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        img.colorspace_settings.name = "Non-Color"
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1].copy()  # Blender stores the bottom row first


def _write_data_attribute(scene, cam, objects, kind: str, z_ref: float) -> None:
    """Workbench: per-corner camera-space normal (kind 'normal') or (z - z_ref, label, 0) ('depth')."""
    w2c = np.linalg.inv(np.array(cam.matrix_world, dtype=np.float64))
    layer = _view_layer(scene)
    layer.update()
    depsgraph = layer.depsgraph
    for obj in objects:
        evaluated = obj.evaluated_get(depsgraph)
        me = evaluated.to_mesh()
        try:
            n_loops = len(me.loops)
            if kind == "normal":
                values = np.empty(n_loops * 3)
                me.corner_normals.foreach_get("vector", values)
                m = np.array(evaluated.matrix_world, dtype=np.float64)
                normal_matrix = w2c[:3, :3] @ np.linalg.inv(m[:3, :3]).T
                n = values.reshape(-1, 3) @ normal_matrix.T
                n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
                colors = np.concatenate([n, np.ones((n_loops, 1))], axis=1)
            else:
                co = np.empty(len(me.vertices) * 3)
                me.vertices.foreach_get("co", co)
                index = np.empty(n_loops, dtype=np.int64)
                me.loops.foreach_get("vertex_index", index)
                m = w2c @ np.array(evaluated.matrix_world, dtype=np.float64)
                z = -(co.reshape(-1, 3) @ m[2, :3] + m[2, 3])[index]
                colors = np.zeros((n_loops, 4))
                colors[:, 0] = z - z_ref
                colors[:, 1] = obj.pass_index
                colors[:, 3] = 1.0
        finally:
            evaluated.to_mesh_clear()
        obj.data.color_attributes[DATA_ATTRIBUTE].data.foreach_set("color", colors.astype(np.float32).ravel())
        obj.data.update()


def render_data(scene, cam, objects, tmp_dir: Path, z_ref: float) -> dict:
    """Depth (metres, 0 = background), camera-space normals and labels from two data passes.

    Returns dict(depth (H,W) float32, normals (H,W,3) float32 in Blender camera space (x right,
    y up, z towards the viewer; (0,0,1) on the background), labels (H,W) uint8 (0 background,
    1 hand, 2 object), coverage_mismatch (pixels where the two passes disagree on foreground)).
    """
    view_settings = scene.view_settings
    view_settings.view_transform, view_settings.look = "Raw", "None"
    scene.render.film_transparent = True
    cycles = scene.render.engine == "CYCLES"
    if cycles:
        c = scene.cycles
        c.samples, c.use_denoising = 1, False
        c.pixel_filter_type, c.filter_width = "BOX", 0.01  # one sample at each pixel centre
        c.max_bounces = c.diffuse_bounces = c.glossy_bounces = c.transmission_bounces = 0
        c.volume_bounces = c.transparent_max_bounces = 0
        scene.objects["jhod_key"].hide_render = True
    else:
        s = scene.display.shading
        s.light, s.color_type = "FLAT", "VERTEX"
        s.show_cavity = s.show_shadows = s.show_object_outline = s.show_specular_highlight = False
        s.show_xray = s.show_backface_culling = False
        scene.display.render_aa = "OFF"
    passes = {}
    for kind in ("normal", "depth"):
        path = Path(tmp_dir) / f"_pass_{kind}.exr"
        if cycles:
            _view_layer(scene).material_override = bpy.data.materials[f"jhod_data_{kind}"]
        else:
            _write_data_attribute(scene, cam, objects, kind, z_ref)
        _set_output(scene, path, "EXR")
        bpy.ops.render.render(write_still=True, scene=scene.name)
        passes[kind] = _read_exr(path)
        path.unlink()
    _view_layer(scene).material_override = None

    d = passes["depth"]
    fg_depth = d[..., 3] > 0.5
    labels = np.where(fg_depth, np.rint(d[..., 1]), 0).clip(0, 255).astype(np.uint8)
    z = d[..., 0] if cycles else d[..., 0] + z_ref
    depth = np.where(labels > 0, z, 0.0).astype(np.float32)
    n = passes["normal"][..., :3].astype(np.float64)
    if cycles:
        n[..., 2] *= -1.0  # Cycles' camera space looks along +z; Blender's camera looks along -z
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    fg = labels > 0
    n[~fg] = (0.0, 0.0, 1.0)
    mismatch = int(np.count_nonzero((passes["normal"][..., 3] > 0.5) != fg))
    return dict(depth=depth, normals=n.astype(np.float32), labels=labels, coverage_mismatch=mismatch)


def read_image(path) -> np.ndarray:
    """(H, W, C) uint8 of any PNG Blender reads, top row first (for contact sheets and checks)."""
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        img.colorspace_settings.name = "Non-Color"
        w, h = img.size
        channels = img.channels
        px = np.empty(w * h * channels, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return np.floor(px.reshape(h, w, channels)[::-1] * 255.0 + 0.5).astype(np.uint8)


def render_view(scene, cam, objects, out_dir: Path, z_ref: float, hands=(), object_masks: bool = False) -> dict:
    """Render rgb.png and the data passes into `out_dir`; write depth.png/.npy, normal.png, edges.png, mask.png and
    hand_pose.png/.json (`hands`: (keypoints (21, 3) world metres, side) per hand). `object_masks`: also one
    masks/<object name>.png per object (``obj[SOURCE_NAME]`` when it stands in for another object), from each
    object's own pass index (set here, restored after)."""
    out_dir = Path(out_dir)
    render_rgb(scene, out_dir / "rgb.png")
    kinds = [obj.pass_index for obj in objects]
    if object_masks:
        for k, obj in enumerate(objects):
            obj.pass_index = k + 1
    try:
        data = render_data(scene, cam, objects, out_dir, z_ref)
    finally:
        for obj, kind in zip(objects, kinds):
            obj.pass_index = kind
    if object_masks:
        ids = data["labels"]
        (out_dir / "masks").mkdir(exist_ok=True)
        for k, obj in enumerate(objects):
            name = bpy.path.clean_name(obj.get(SOURCE_NAME, obj.name))
            write_png(out_dir / "masks" / f"{name}.png", ((ids == k + 1) * 255).astype(np.uint8))
        lookup = np.array([0] + kinds, dtype=np.uint8)
        data["labels"] = lookup[np.minimum(ids, len(kinds))]
    K = intrinsics(scene, cam)
    depth_png, (zmin, zmax) = encode_depth(data["depth"], data["labels"])
    write_png(out_dir / "depth.png", depth_png)
    np.save(out_dir / "depth.npy", data["depth"])
    write_png(out_dir / "normal.png", encode_normals(data["normals"], data["labels"]))
    edges = detect_edges(data["depth"], data["normals"], data["labels"], K)
    write_png(out_dir / "edges.png", (edges * 255).astype(np.uint8))
    write_png(out_dir / "mask.png", encode_mask(data["labels"]))
    w, h = render_size(scene)
    opencv = extrinsics(cam)["world_to_camera_opencv"]
    hands_uv, visible = [], []
    for keypoints, _ in hands:
        uv, z = project(keypoints, K, opencv)
        hands_uv.append(uv)
        visible.append((z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1))
    write_png(out_dir / "hand_pose.png", maps.draw_hand_keypoints(hands_uv, w, h, visible))
    (out_dir / "hand_pose.json").write_text(json.dumps(
        maps.openpose_hands_json(hands_uv, [side for _, side in hands], w, h, visible)))
    labels = data["labels"]
    return dict(depth_range_m=[zmin, zmax], hand_pixels=int((labels == HAND_LABEL).sum()),
                object_pixels=int((labels == OBJECT_LABEL).sum()), edge_pixels=int(edges.sum()),
                pass_coverage_mismatch_px=data["coverage_mismatch"])


def contact_sheet(view_dirs, path, cell: int = 256) -> np.ndarray:
    """One row per view directory, columns rgb, depth, normal, edges, mask; 4 px white gutters."""
    sheet = maps.sheet([[read_image(Path(view_dir) / name) for name in MAP_FILES] for view_dir in view_dirs], cell,
                       thin_columns={MAP_FILES.index("edges.png")})
    write_png(path, sheet)
    return sheet
