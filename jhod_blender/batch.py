"""Headless batch rendering of hand grasps on objects: RGB + depth, normal, edge and mask maps.

    blender -b --python jhod_blender/batch.py -- --objects MESH... [--grasps FILE_OR_DIR] --num N --out DIR
    python jhod_blender/batch.py --objects MESH... [--grasps FILE_OR_DIR] --num N --out DIR   (bpy module)

Without --grasps the shipped model samples the grasps (--weights, --steps); --joint samples the objects
too (no --objects). Options: --views 3 --resolution 512 --engine CYCLES|BLENDER_WORKBENCH --samples 16
--elevation 30 --seed 0 --force --sheet PNG. Output and conventions: docs/batch_rendering.md.

For every object, grasp k and view v it writes DIR/<object id>/grasp_<k>/view_<v>/ with rgb.png,
depth.png, depth.npy, normal.png, edges.png, mask.png and view.json, and DIR/<object id>/manifest.json.
A view is rendered into view_<v>.partial/ and renamed to view_<v>/ once complete (view.json written
last), so a killed run resumes where it stopped. Exit status: 0 all done, 1 some objects skipped
(bad mesh, no grasps), 2 nothing rendered because of the arguments (e.g. a missing --objects file).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
import math
import shutil
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script (blender --python / python jhod_blender/batch.py)
    try:
        import bpy  # noqa: F401
    except ImportError:
        sys.exit("error: batch.py renders with Blender, and this Python has no bpy. Run it as "
                 "`blender -b --python jhod_blender/batch.py -- ARGS`, or install Blender's Python module "
                 "(`pip install bpy==5.0.1`, Python 3.11) and run `python jhod_blender/batch.py ARGS`")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
PACKAGE = __package__ or "jhod_blender"  # also importable from the installed extension (bl_ext.*.jhod_grasp)


def _module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")

FORMAT = "jhod-batch-render"
FORMAT_VERSION = 1
ENGINES = ("CYCLES", "BLENDER_WORKBENCH")
VIEW_FILES = ("rgb.png", "depth.png", "depth.npy", "normal.png", "edges.png", "mask.png")


class BatchError(Exception):
    """A problem with the arguments or inputs, reported as one message without a traceback."""


# ---------------------------------------------------------------------------------------------
# arguments

def parse_args(argv=None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    p = argparse.ArgumentParser(prog="jhod_blender/batch.py", description=__doc__.splitlines()[0])
    p.add_argument("--objects", nargs="+", type=Path, default=[], metavar="MESH",
                   help="object meshes (ply/obj/stl/glb/off) in metres, used in their own frame; id = file stem")
    p.add_argument("--grasps", type=Path, default=None, metavar="FILE_OR_DIR",
                   help="grasps.npz (global_orient, hand_pose, transl[, object_id]) or a dataset folder "
                        "(training/data/grasps.py format, filtered by object id)")
    p.add_argument("--num", type=int, default=1, help="grasps per object (default 1)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--views", type=int, default=3, help="views per grasp, evenly spaced in azimuth (default 3)")
    p.add_argument("--resolution", type=int, default=512, help="square image size in pixels (default 512)")
    p.add_argument("--engine", choices=ENGINES, default="CYCLES", help="render engine (default CYCLES)")
    p.add_argument("--samples", type=int, default=16, help="Cycles samples of rgb.png (default 16; data passes use 1)")
    p.add_argument("--elevation", type=float, default=30.0, help="camera elevation in degrees (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the grasp sampler (recorded) and of Cycles noise")
    p.add_argument("--weights", type=Path, default=None, metavar="DIR",
                   help="model folder with autoencoder.npz + denoiser.npz (default: the shipped model)")
    steps = _module("core").DEFAULT_DDIM_STEPS
    p.add_argument("--steps", type=int, default=steps, help=f"DDIM steps when the model samples (default {steps})")
    p.add_argument("--joint", action="store_true",
                   help="sample hand and object together: --num pairs, objects saved under <out>/generated")
    p.add_argument("--force", action="store_true", help="re-render views made with other settings instead of stopping")
    p.add_argument("--sheet", type=Path, default=None, metavar="PNG",
                   help="also write a contact sheet of the first object's first grasp (all views x 5 maps)")
    args = p.parse_args(argv)
    if args.joint and (args.objects or args.grasps is not None):
        raise BatchError("--joint generates the objects and their grasps: leave out --objects and --grasps")
    if not args.objects and not args.joint:
        raise BatchError("no objects: pass --objects MESH... (ply/obj/stl/glb/off files in metres)")
    for name, value, low in (("--num", args.num, 1), ("--views", args.views, 1), ("--resolution", args.resolution, 16),
                             ("--samples", args.samples, 1)):
        if value < low:
            raise BatchError(f"{name} must be at least {low}, got {value}")
    if not -89.0 <= args.elevation <= 89.0:
        raise BatchError(f"--elevation must be within -89..89 degrees, got {args.elevation}")
    stems = [p.stem for p in dict.fromkeys(args.objects)]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise BatchError(f"objects are named by file stem and these occur twice: {', '.join(clash)}")
    if args.grasps is not None and not args.grasps.exists():
        raise BatchError(f"--grasps {args.grasps}: no such file or folder")
    return args


# ---------------------------------------------------------------------------------------------
# grasp source (the hook `jhod sample` will plug into)

@functools.lru_cache(maxsize=4)
def _read_grasp_source(path: Path) -> dict:
    """All grasps of a grasps.npz or a dataset folder: global_orient, hand_pose, transl, object_id (or None)."""
    if path.is_dir():
        try:
            data = _module("core").load_grasps(path)
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise BatchError(f"--grasps {path}: {exc}") from None
        data = {k: data[k] for k in ("global_orient", "hand_pose", "transl", "object_id")}
    else:
        if not zipfile.is_zipfile(path):
            raise BatchError(f"--grasps {path}: not a .npz file (expected a grasps.npz or a dataset folder)")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("global_orient", "hand_pose", "transl") if k not in z.files]
                if missing:
                    raise BatchError(f"--grasps {path}: missing key(s) {', '.join(missing)}; a grasps.npz holds "
                                     "global_orient (G,3), hand_pose (G,45), transl (G,3), optionally object_id (G,)")
                data = {k: z[k] for k in ("global_orient", "hand_pose", "transl")}
                data["object_id"] = z["object_id"] if "object_id" in z.files else None
        except BatchError:
            raise
        except Exception as exc:  # zipfile/pickle/format errors all mean "not a grasps.npz"
            raise BatchError(f"--grasps {path}: cannot read it as a .npz ({exc})") from None
    g = len(data["global_orient"])
    shapes = {"global_orient": (g, 3), "hand_pose": (g, 45), "transl": (g, 3)}
    for key, shape in shapes.items():
        arr = np.asarray(data[key])
        if arr.shape != shape:
            raise BatchError(f"--grasps {path}: {key} has shape {arr.shape}, expected {shape}")
        if not np.isfinite(arr).all():
            raise BatchError(f"--grasps {path}: {key} holds NaN or infinite values")
        data[key] = arr.astype(np.float64)
    if np.abs(data["transl"]).max(initial=0.0) > 10.0:
        raise BatchError(f"--grasps {path}: transl values up to {np.abs(data['transl']).max():.3g} m; "
                         "expected metres in the object frame (millimetres?)")
    return data


def object_seed(seed: int, object_id: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(object_id.encode())]).generate_state(1)[0])


def grasps_for_object(grasp_path: Path | None, object_id: str, num: int, seed: int, mesh=None,
                      weights: Path | None = None, steps: int | None = None) -> dict:
    """THE grasp source: up to `num` grasps (MANO right hand, object frame, metres) for one object.

    With --grasps: the first `num` grasps of the object in source order (stable when a dataset grows
    by new shards, so a resumed run finds the same grasps). Without: the JHOD model samples `num`
    grasps on `mesh` = (vertices, faces) with `seed` (the grasps `jhod sample MESH --seed SEED` makes), NumPy
    backend, `steps` DDIM steps (None: the model's default), refined, so a resumed run samples the same grasps.
    Returns dict(global_orient (G,3), hand_pose (G,45), transl (G,3), source_index (G,), sample_seed (G,)), G <= num.
    """
    if grasp_path is None:
        return _sample_grasps(object_id, num, seed, mesh, weights, steps)
    data = _read_grasp_source(Path(grasp_path))
    ids = data["object_id"]
    candidates = np.arange(len(data["global_orient"])) if ids is None else \
        np.nonzero(np.asarray(ids).astype(str) == object_id)[0]
    candidates = candidates[:num]
    sample_seeds = np.random.default_rng(object_seed(seed, object_id)).integers(0, 2**31 - 1, size=num)
    return dict(global_orient=data["global_orient"][candidates], hand_pose=data["hand_pose"][candidates],
                transl=data["transl"][candidates], source_index=candidates,
                sample_seed=sample_seeds[:len(candidates)])


def _sample_grasps(object_id: str, num: int, seed: int, mesh, weights, steps: int | None) -> dict:
    core = _module("core")
    model = _module("backend").numpy_sampler(str(weights) if weights else None)
    result = core.pipeline.collect(core.pipeline.iter_grasps(model, mesh, num, seed=seed,
                                                             steps=steps or core.DEFAULT_DDIM_STEPS))
    return dict(global_orient=result["global_orient"], hand_pose=result["hand_pose"], transl=result["transl"],
                source_index=np.arange(num), sample_seed=np.full(num, seed))


def generate_joint_inputs(args) -> tuple[list[Path], Path]:
    """--joint: `num` hand-object pairs sampled together (seed --seed), each object surfaced (OpenVDB) and
    written to <out>/generated/joint_<seed>_<i>.ply, the refined hands to <out>/generated/grasps.npz.
    Deterministic, so an interrupted run finds the same files (kept when complete)."""
    folder = args.out / "generated"
    paths = [folder / f"joint_{args.seed}_{i:03d}.ply" for i in range(args.num)]
    grasp_file = folder / "grasps.npz"
    if grasp_file.is_file() and all(p.is_file() for p in paths):
        return paths, grasp_file
    core, selection, surfacing = _module("core"), _module("selection"), _module("surfacing")
    import bpy

    folder.mkdir(parents=True, exist_ok=True)
    model = _module("backend").numpy_sampler(str(args.weights) if args.weights else None)
    result = core.pipeline.collect(core.pipeline.iter_hand_object(model, args.num, seed=args.seed, steps=args.steps))
    meshes = []
    for i, path in enumerate(paths):
        mesh = surfacing.surface_mesh(result["object_points"][i], path.stem)
        vertices, triangles = selection.mesh_arrays(mesh)
        bpy.data.meshes.remove(mesh)
        meshes.append((vertices, triangles))
        core.atomic_write(path, core.ply_bytes(vertices, triangles))
        print(f"[generated {i + 1}/{args.num}] {path.name}: {len(vertices)} vertices", flush=True)
    hands = {k: result[k] for k in ("global_orient", "hand_pose", "transl")}
    rows = _module("backend").pair_hands(str(args.weights) if args.weights else None, hands, meshes, args.seed,
                                         args.steps)
    np.savez(grasp_file, object_id=np.array([p.stem for p in paths]),
             **{k: np.concatenate([r[k] for r in rows]) for k in ("global_orient", "hand_pose", "transl")})
    return paths, grasp_file


# ---------------------------------------------------------------------------------------------
# objects

def load_object(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(vertices, faces, warnings) of a mesh in metres; raises JHODError/BatchError with a clear message."""
    core = _module("core")
    if core.load_mesh is None:  # Blender's own Python without trimesh
        return _load_object_with_blender(path)
    mesh = core.load_mesh(path)
    warnings = core.validate_mesh(mesh)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64), warnings


def _load_object_with_blender(path: Path):
    import bpy

    JHODError = _module("core").JHODError
    suffix = path.suffix.lower()
    importers = {".ply": "ply_import", ".obj": "obj_import", ".stl": "stl_import"}
    if not path.is_file():
        raise JHODError(f"mesh file not found: {path}")
    if suffix not in importers:
        raise JHODError(f"unsupported mesh format '{suffix}' without trimesh; use .ply, .obj or .stl")
    before = set(bpy.data.objects)
    try:
        # coordinates as stored: no axis conversion, no scaling
        getattr(bpy.ops.wm, importers[suffix])(filepath=str(path), forward_axis="Y", up_axis="Z", global_scale=1.0)
    except RuntimeError as exc:
        raise JHODError(f"cannot read mesh file {path}: {str(exc).strip()}") from None
    verts, faces = [], []
    offset = 0
    for obj in set(bpy.data.objects) - before:
        if obj.type == "MESH":
            me = obj.data
            me.calc_loop_triangles()
            co = np.empty(len(me.vertices) * 3)
            me.vertices.foreach_get("co", co)
            m = np.array(obj.matrix_world)
            verts.append(co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3])
            tri = np.empty(len(me.loop_triangles) * 3, dtype=np.int64)
            me.loop_triangles.foreach_get("vertices", tri)
            faces.append(tri.reshape(-1, 3) + offset)
            offset += len(me.vertices)
        bpy.data.objects.remove(obj)
    v = np.concatenate(verts) if verts else np.zeros((0, 3))
    f = np.concatenate(faces) if faces else np.zeros((0, 3), dtype=np.int64)
    if len(f) == 0:
        raise JHODError(f"{path}: mesh has {len(v)} vertices but no faces")
    if not np.isfinite(v).all():
        raise JHODError(f"{path}: mesh has NaN or infinite coordinates")
    try:
        _module("core").check_object_size(float(np.ptp(v, axis=0).max()))
    except JHODError as exc:
        raise JHODError(f"{path}: {exc}") from None
    return v, f, []


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# resume bookkeeping

def view_settings(args, object_info: dict, grasp: dict, view: int) -> dict:
    """Everything a finished view depends on; a view on disk is reused only when this matches."""
    return dict(engine=args.engine, resolution=args.resolution, views=args.views, elevation_deg=args.elevation,
                samples=args.samples if args.engine == "CYCLES" else None, view=view,
                object_sha256=object_info["sha256"],
                global_orient=[float(x) for x in grasp["global_orient"]],
                hand_pose=[float(x) for x in grasp["hand_pose"]], transl=[float(x) for x in grasp["transl"]])


def read_view(view_dir: Path) -> dict | None:
    """The view.json of a finished view (None when missing, unreadable or any map file is missing)."""
    try:
        record = json.loads((view_dir / "view.json").read_text())
    except (OSError, ValueError):
        return None
    if not all((view_dir / name).is_file() for name in VIEW_FILES):
        return None
    return record


def same_settings(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        if isinstance(a[key], list):
            if len(a[key]) != len(b[key]) or not np.allclose(a[key], b[key], rtol=0, atol=1e-7):
                return False
        elif a[key] != b[key]:
            return False
    return True


def build_manifest(object_dir: Path, object_info: dict, args, grasps: dict) -> dict:
    entries = []
    for k in range(len(grasps["global_orient"])):
        views = []
        for v in range(args.views):
            record = read_view(object_dir / f"grasp_{k}" / f"view_{v}")
            if record is not None:
                views.append({key: record[key] for key in record if key not in ("settings", "grasp", "object")})
        entries.append(dict(grasp=k, dir=f"grasp_{k}", source_index=int(grasps["source_index"][k]),
                            sample_seed=int(grasps["sample_seed"][k]),
                            global_orient=[float(x) for x in grasps["global_orient"][k]],
                            hand_pose=[float(x) for x in grasps["hand_pose"][k]],
                            transl=[float(x) for x in grasps["transl"][k]], views=views))
    return dict(
        format=FORMAT, format_version=FORMAT_VERSION, object=object_info,
        settings=dict(engine=args.engine, resolution=args.resolution, views=args.views, elevation_deg=args.elevation,
                      samples=args.samples if args.engine == "CYCLES" else None, seed=args.seed,
                      object_seed=object_seed(args.seed, object_info["id"]),
                      grasp_source=str(args.grasps) if args.grasps is not None else
                      f"JHOD model ({args.weights or 'shipped weights'}, NumPy, {args.steps} DDIM steps, refined)",
                      hand="open hand, right (MANO parameters, flat_hand_mean=True)"),
        conventions=CONVENTIONS, grasps=entries)


CONVENTIONS = {
    "units": "metres; world frame = the object's own frame (mesh file coordinates), z up",
    "grasp": "MANO right hand: global_orient axis-angle (3), hand_pose axis-angle (45, zeros = flat hand), "
             "transl (3) in metres, object frame",
    "K": "3x3 pinhole in pixels; u right, v down, pixel centres at integer coordinates (OpenCV): "
         "cx = cy = (resolution - 1) / 2",
    "world_to_camera_opencv": "4x4; camera x right, y down, z forward (into the scene)",
    "world_to_camera_blender": "4x4; Blender camera: x right, y up, looks along -z; "
                               "opencv = diag(1,-1,-1,1) @ blender; camera_to_world_blender = Blender's matrix_world",
    "depth.npy": "float32 (H, W) view z depth in metres along the optical axis (OpenCV z), 0 = background",
    "depth.png": "8-bit gray: inverse depth normalised over the foreground, nearest = 255, farthest = 26 "
                 "(10%), background 0; depth_range_m = [nearest, farthest] z",
    "normal.png": "ControlNet normalbae: n in Blender camera space (x right, y up, z towards the viewer), "
                  "R = (1 - nx)/2, G = (1 + ny)/2, B = (1 + nz)/2; background (128, 128, 255)",
    "edges.png": "8-bit gray, 255 = edge between 4-neighbours: label change, depth jump (more than "
                 "3 x pixel footprint x (1 + tan view angle)) or normal crease over 35 deg; one pixel wide, "
                 "on the nearer surface",
    "mask.png": "RGB: hand (255, 0, 0), object (0, 255, 0), background (0, 0, 0); visible surfaces",
    "rgb.png": "8-bit sRGB (Standard view transform), skin and plain object materials, light grey background",
    "image rows": "top row first (row 0 = v 0)",
}


# ---------------------------------------------------------------------------------------------
# the run

class Renderer:
    """One Blender scene per object: hand rig + object mesh + camera; posed per grasp."""

    def __init__(self, args, vertices, faces, object_id):
        render, rig = _module("render"), _module("rig")
        load_hand_data = _module("core").load_hand_data
        self.render, self.rig = render, rig
        self.scene = render.reset_scene(args.engine, args.resolution, args.samples, args.seed)
        self.data = load_hand_data(side="right")
        self.arm, self.hand = rig.build_hand(self.data, "jhod_hand", self.scene.collection)
        render.prepare_render_object(self.hand, render.HAND_LABEL, render.SKIN_SRGB, sharp_angle_deg=None)
        self.obj = render.add_mesh_object(self.scene, object_id, vertices, faces, render.OBJECT_LABEL)
        self.object_vertices = np.asarray(vertices, dtype=np.float64)
        self.args = args

    def pose(self, grasp: dict) -> list[dict]:
        """Pose the hand; return the orbit views framing hand and object."""
        self.rig.apply_pose(self.arm, self.hand, self.data, grasp["global_orient"], grasp["hand_pose"],
                            grasp["transl"])
        self.keypoints = _module("core").forward(self.data, np.asarray(grasp["global_orient"])[None],
                                                  np.asarray(grasp["hand_pose"])[None],
                                                  np.asarray(grasp["transl"])[None])[2][0]
        hand_vertices = self.rig.evaluated_vertices(self.hand)
        both = np.concatenate([hand_vertices, self.object_vertices])
        center = (both.min(axis=0) + both.max(axis=0)) / 2.0
        radius = float(np.linalg.norm(both - center, axis=1).max())
        towards_hand = hand_vertices.mean(axis=0) - self.object_vertices.mean(axis=0)
        azimuth0 = math.degrees(math.atan2(towards_hand[1], towards_hand[0]))
        if np.linalg.norm(towards_hand[:2]) < 1e-6:  # hand straight above or below: any azimuth
            azimuth0 = 0.0
        return self.render.orbit_views(center, radius, self.args.views, self.args.elevation, azimuth0)

    def render_view(self, view: dict, out_dir: Path) -> dict:
        cam = self.render.place_camera(self.scene, view)
        stats = self.render.render_view(self.scene, cam, [self.hand, self.obj], out_dir, view["distance_m"],
                                        hands=[(self.keypoints, "right")])
        K = self.render.intrinsics(self.scene, cam)
        ext = self.render.extrinsics(cam)
        return dict(K=K.tolist(), **{k: m.tolist() for k, m in ext.items()},
                    azimuth_deg=view["azimuth_deg"], elevation_deg=view["elevation_deg"],
                    distance_m=view["distance_m"], target=view["target"].tolist(),
                    clip_m=[cam.data.clip_start, cam.data.clip_end], lens_mm=cam.data.lens,
                    sensor_width_mm=cam.data.sensor_width, **stats)


def run(args) -> int:
    JHODError = _module("core").JHODError
    t_run = time.time()
    if args.grasps is not None:
        _read_grasp_source(args.grasps)  # fail on a bad source before writing anything
    else:  # missing or corrupt weights: fail before writing anything
        try:  # loaded once here and kept for the objects (backend.numpy_sampler caches it)
            _module("backend").numpy_sampler(str(args.weights) if args.weights else None)
        except JHODError as exc:
            raise BatchError(str(exc)) from None
    args.out.mkdir(parents=True, exist_ok=True)
    if args.joint:  # the generated objects and their grasps become the inputs of the usual loop
        args.objects, args.grasps = generate_joint_inputs(args)
        args.num = 1
    skipped, counts = [], dict(rendered=0, reused=0)
    objects = list(dict.fromkeys(args.objects))
    first_sheet_dirs = None
    for i, path in enumerate(objects, 1):
        object_id = path.stem
        tag = f"[object {i}/{len(objects)} {object_id}]"
        try:
            vertices, faces, warnings = load_object(path)
        except (JHODError, BatchError) as exc:
            print(f"{tag} skipped: {exc}", flush=True)
            skipped.append((str(path), str(exc)))
            continue
        for w in warnings:
            print(f"{tag} warning: {w}", flush=True)
        grasps = grasps_for_object(args.grasps, object_id, args.num, args.seed, (vertices, faces), args.weights,
                                   args.steps)
        n = len(grasps["global_orient"])
        if n == 0:
            msg = f"no grasps for object id '{object_id}' in {args.grasps}"
            print(f"{tag} skipped: {msg}", flush=True)
            skipped.append((str(path), msg))
            continue
        if n < args.num:
            print(f"{tag} only {n} grasp(s) in the source (asked for {args.num})", flush=True)
        object_info = dict(id=object_id, mesh=str(path), sha256=file_digest(path), vertices=int(len(vertices)),
                           faces=int(len(faces)), bounds_m=[vertices.min(0).tolist(), vertices.max(0).tolist()])
        object_dir = args.out / object_id
        renderer = None
        for k in range(n):
            grasp = {key: grasps[key][k] for key in grasps}
            grasp_dir = object_dir / f"grasp_{k}"
            views = None
            for v in range(args.views):
                view_dir = grasp_dir / f"view_{v}"
                settings = view_settings(args, object_info, grasp, v)
                record = read_view(view_dir)
                progress = f"{tag} grasp {k + 1}/{n} view {v + 1}/{args.views}"
                if record is not None:
                    if same_settings(record.get("settings", {}), settings):
                        counts["reused"] += 1
                        print(f"{progress}: done already", flush=True)
                        continue
                    if not args.force:
                        raise BatchError(f"{view_dir} was rendered with other settings (engine, resolution, views, "
                                         "grasp or mesh differ); use another --out, or --force to re-render")
                t0 = time.time()
                if renderer is None:
                    renderer = Renderer(args, vertices, faces, object_id)
                if views is None:
                    views = renderer.pose(grasp)
                partial = grasp_dir / f"view_{v}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                partial.mkdir(parents=True)
                info = renderer.render_view(views[v], partial)
                info.update(view=v, dir=f"grasp_{k}/view_{v}", files=list(VIEW_FILES),
                            seconds=round(time.time() - t0, 3))
                record = dict(info, settings=settings, object=object_id,
                              grasp=dict(index=k, source_index=int(grasp["source_index"]),
                                         sample_seed=int(grasp["sample_seed"])))
                (partial / "view.json").write_text(json.dumps(record, indent=1))
                if view_dir.exists():
                    shutil.rmtree(view_dir)
                partial.rename(view_dir)
                counts["rendered"] += 1
                print(f"{progress}: rendered in {time.time() - t0:.2f} s", flush=True)
            _write_manifest(object_dir, object_info, args, grasps)
        _write_manifest(object_dir, object_info, args, grasps)
        if first_sheet_dirs is None:
            first_sheet_dirs = [object_dir / "grasp_0" / f"view_{v}" for v in range(args.views)]
    if args.sheet is not None and first_sheet_dirs is not None:
        render = _module("render")
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        render.contact_sheet(first_sheet_dirs, args.sheet)
        print(f"contact sheet: {args.sheet}", flush=True)
    total = counts["rendered"] + counts["reused"]
    per_view = f", {(time.time() - t_run) / counts['rendered']:.2f} s per rendered view" if counts["rendered"] else ""
    print(f"done: {counts['rendered']} view(s) rendered, {counts['reused']} already done ({total} total), "
          f"{len(skipped)} object(s) skipped, {time.time() - t_run:.1f} s{per_view}", flush=True)
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", flush=True)
    return 1 if skipped else 0


def _write_manifest(object_dir: Path, object_info: dict, args, grasps: dict) -> None:
    """manifest.json rebuilt from the view.json files; rewritten only when its content changes."""
    object_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(build_manifest(object_dir, object_info, args, grasps), indent=1)
    path = object_dir / "manifest.json"
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    _module("core").atomic_write(path, text)


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        return run(args)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
