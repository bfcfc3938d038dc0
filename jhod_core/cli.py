"""The ``jhod`` command line.

Each subcommand is one ``add_<name>(subparsers)`` function registered in ``SUBCOMMANDS``; it
builds its parser and sets ``func(args) -> exit code``. To add a command, write such a function
and append it to the list. Heavy imports (torch, pybullet, the hand model) happen inside the
commands, so ``jhod --help`` stays fast and works without optional parts.

Errors meant for the user (``JHODError``, file errors) print one ``error: ...`` line on stderr and
exit with status 1; argparse usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from jhod_core import __version__
from jhod_core.errors import JHODError
from jhod_core.pipeline import CANDIDATES, DEFAULT_DDIM_STEPS, PAIR_CANDIDATES, default_threads


def add_eval_grasp(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval-grasp",
        help="grasp metrics of hand meshes on an object",
        description="Evaluate hand meshes grasping an object (both in the object frame, metres). Prints one "
        "JSON line per hand and, for several hands, a summary line. See docs/metrics.md.",
    )
    parser.add_argument("object", metavar="OBJECT", help="object mesh (obj/ply/stl/glb/gltf/off), metres")
    parser.add_argument("hands", nargs="+", metavar="HAND_MESH", help="closed (watertight) hand mesh(es), metres")
    parser.add_argument("--no-sim", action="store_true", help="skip the PyBullet simulation metrics")
    parser.add_argument("--pitch", type=float, default=0.001,
                        help="grid spacing in metres for the intersection volume (default 0.001)")
    parser.add_argument("--protocol", choices=("jhod", "halo", "grasptta", "oakink"), default="jhod",
                        help="whose definitions of depth, volume and contact to reproduce (docs/metrics.md)")
    parser.set_defaults(func=run_eval_grasp)


def run_eval_grasp(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from jhod_core.metrics import contact_ratio, evaluate_grasp

    if not args.pitch > 0:
        raise JHODError(f"--pitch must be positive, got {args.pitch}")
    obj = _load_checked(args.object, "object")
    hands = [_load_checked(path, "hand") for path in args.hands]  # all inputs checked before the slow part

    results = []
    for path, hand in tqdm(list(zip(args.hands, hands)), desc="eval-grasp", unit="hand",
                           file=sys.stderr, disable=not sys.stderr.isatty()):
        metrics = evaluate_grasp(obj, hand.vertices, hand.faces, sim=not args.no_sim, pitch=args.pitch,
                                 protocol=args.protocol)
        results.append(metrics)
        print(json.dumps({"hand": path, **metrics}), flush=True)

    if len(results) > 1:
        summary = {"summary": True, "n_hands": len(results),
                   "contact_ratio": contact_ratio(r["contact"] for r in results)}
        for key in ("penetration_depth_cm", "intersection_volume_cm3",
                    "sim_displacement_cm", "sim_displacement_6dir_cm"):
            values = [r[key] for r in results if r[key] is not None]
            summary[f"mean_{key}"] = sum(values) / len(values) if values else None
        print(json.dumps(summary), flush=True)
    return 0


def _load_checked(path: str, role: str, check=None):
    """Load + validate one mesh (and ``check(mesh)``, if given); errors and warnings name its role (and file, if
    not already said). Warnings are printed only for a mesh that passed every check."""
    from jhod_core.geometry.mesh import load_mesh, validate_mesh

    try:
        mesh = load_mesh(path)
    except JHODError as exc:
        raise type(exc)(f"{role}: {exc}") from exc
    try:
        warnings = validate_mesh(mesh)
        if check is not None:
            check(mesh)
    except JHODError as exc:
        raise type(exc)(f"{role} {path}: {exc}") from exc
    for warning in warnings:
        print(f"warning: {role} {path}: {warning}", file=sys.stderr)
    return mesh


def add_hand(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hand",
        help="export a posed hand mesh (open hand or your MANO)",
        description="Write a closed hand mesh in a named pose (metres, MANO model frame) and print its 21 "
        "keypoints as JSON. The hand is the built-in open hand unless --mano or $JHOD_MANO_DIR points to MANO.",
    )
    parser.add_argument("--pose", default="relaxed", help="flat, relaxed, fist or pinch (default relaxed)")
    parser.add_argument("--side", choices=("right", "left"), default="right")
    parser.add_argument("--mano", default=None, help="MANO_RIGHT/LEFT .pkl/.npz file or its folder")
    parser.add_argument("--out", required=True, help="output mesh file (.obj, .ply, .stl, .glb)")
    parser.set_defaults(func=run_hand)


def run_hand(args: argparse.Namespace) -> int:
    from pathlib import Path

    import trimesh

    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.poses import NAMED_POSES_DEG, named_pose

    if args.pose not in NAMED_POSES_DEG:
        raise JHODError(f"unknown pose {args.pose!r}; choose from {', '.join(NAMED_POSES_DEG)}")
    out = Path(args.out)
    if out.suffix.lower() not in (".obj", ".ply", ".stl", ".glb"):
        raise JHODError(f"--out must end in .obj, .ply, .stl or .glb, got {out.name!r}")
    data = load_hand_data(args.mano, args.side)
    verts, _, keypoints = numpy_forward(data, hand_pose=named_pose(args.pose, data))
    out.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(verts[0], data.closed_faces, process=False).export(out)
    print(json.dumps({"mesh": str(out), "hand": data.source, "side": args.side, "pose": args.pose,
                      "keypoints": keypoints[0].round(6).tolist()}))
    return 0


def _add_sampling_options(parser: argparse.ArgumentParser, num_help: str) -> None:
    """The options `sample` and `sample-joint` share."""
    parser.add_argument("--num", type=int, required=True, help=num_help)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created; the outputs of an earlier run in it are replaced)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); item i of a seed is the "
                        "same whatever --num is")
    parser.add_argument("--steps", type=int, default=DEFAULT_DDIM_STEPS,
                        help=f"reverse diffusion steps, 1..1000 (default {DEFAULT_DDIM_STEPS})")
    parser.add_argument("--method", choices=("ddim", "ddpm"), default="ddim",
                        help="DDIM (deterministic, default) or ancestral DDPM (use ~1000 --steps)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--backend", choices=("auto", "torch", "numpy"), default="auto",
                        help="network backend: torch when installed (auto), or NumPy (same results)")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"CPU threads for the network (default half the cores, here {default_threads()})")
    parser.add_argument("--no-refine", action="store_true",
                        help="skip the post-sampling refinement (contact, penetration, joint limits)")
    parser.add_argument("--weights", default=None, metavar="DIR",
                        help="folder with autoencoder.npz and denoiser.npz (default: the shipped model)")


def add_sample(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="sample grasps of an object mesh with the JHOD model",
        description="Sample N grasps of an object (mesh in metres, its own frame) with the trained JHOD model. "
        "Writes DIR/hand_000.obj ... (closed hand meshes, object frame, metres) and DIR/grasps.npz "
        "(global_orient, hand_pose, transl, keypoints, seed). Same seed -> same output.",
    )
    parser.add_argument("object", metavar="OBJECT_MESH", help="object mesh (obj/ply/stl/glb/gltf/off), metres")
    _add_sampling_options(parser, "number of grasps (>= 1)")
    parser.add_argument("--side", choices=("right", "left"), default="right", help="hand side (default right)")
    parser.add_argument("--candidates", type=int, default=CANDIDATES,
                        help=f"samples drawn per returned grasp; the best-scored after refinement is kept "
                        f"(default {CANDIDATES}; 1 = fastest; ignored with --no-refine)")
    steer = parser.add_argument_group(
        "steering", "where, from which side and how the hand holds the object (object frame, metres); the model "
        "samples several times as many grasps and the ones that best meet these are kept")
    steer.add_argument("--near", metavar="X,Y,Z", default=None,
                       help="a point on the object to hold: the hand's contact centroid comes close to it")
    steer.add_argument("--approach", metavar="DX,DY,DZ", default=None,
                       help="the direction the hand moves in to reach the object (the palm faces it); "
                       "0,0,-1 = from above")
    steer.add_argument("--type", dest="grasp_type", choices=("power", "precision", "pinch"), default=None,
                       help="power (palm touches), precision (3+ fingertips, palm off) or pinch (thumb and index "
                       "finger); refinement keeps the type")
    parser.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from jhod_core.geometry.limits import check_thickness
    from jhod_core.pipeline import check_counts, check_options, iter_grasps, load_backend, set_threads
    from jhod_core.steering import Steering, parse_vector

    check_counts(args.num, args.steps, args.seed)
    check_options(args.side, args.candidates, args.method)
    steering = Steering(near=None if args.near is None else parse_vector(args.near, "--near"),
                        approach=None if args.approach is None else parse_vector(args.approach, "--approach"),
                        grasp_type=args.grasp_type)
    if steering.active and args.no_refine:
        raise JHODError("--near, --approach and --type choose among refined grasps: leave out --no-refine")
    set_threads(args.threads)
    out = _check_out_dir(args.out)
    mesh = _load_checked(args.object, "object", lambda m: check_thickness(m.vertices))
    model = load_backend(args.weights, args.backend, args.device)
    run = iter_grasps(model, mesh, args.num, seed=args.seed, steps=args.steps, method=args.method,
                      refine=not args.no_refine, side=args.side, candidates=args.candidates, steering=steering)
    _write_results(out, run, args.num, "sample")
    print(json.dumps({"out": str(out), "num": args.num, "seed": args.seed}))
    return 0


def add_sample_joint(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample-joint",
        help="sample hands and objects together with the JHOD model",
        description="Sample N hand-object pairs jointly (object-centric frame, metres). Writes per pair "
        "DIR/object_000.obj (decoded points surfaced as a closed, smooth mesh, the add-on's method), "
        "DIR/object_000_points.npy (2048 x 3), DIR/hand_000.obj, and DIR/grasps.npz for all pairs. Each hand is "
        f"chosen among {PAIR_CANDIDATES}, its own and conditional samples on its object, refined (--no-refine: the "
        "raw joint hands).",
    )
    _add_sampling_options(parser, "number of hand-object pairs (>= 1)")
    parser.set_defaults(func=run_sample_joint)


def run_sample_joint(args: argparse.Namespace) -> int:
    from jhod_core.pipeline import check_counts, check_options, iter_hand_object, load_backend, set_threads

    check_counts(args.num, args.steps, args.seed)
    check_options(method=args.method)
    set_threads(args.threads)
    out = _check_out_dir(args.out)
    model = load_backend(args.weights, args.backend, args.device)
    run = iter_hand_object(model, args.num, seed=args.seed, steps=args.steps, method=args.method)
    _write_results(out, _surfaced(run, None if args.no_refine else model, args), args.num, "sample-joint")
    print(json.dumps({"out": str(out), "num": args.num, "seed": args.seed}))
    return 0


def _surfaced(run, model, args):
    """Joint batches with each object surfaced and, given the ``model``, each hand refined and chosen among
    candidates on its object (``sample.surface_pairs``)."""
    from jhod_core.sample import surface_pairs

    for item in run:
        yield surface_pairs(item, model, steps=args.steps, method=args.method) if isinstance(item, dict) else item


def _check_out_dir(path: str):
    from pathlib import Path

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise JHODError(f"--out {out} exists and is not a folder")
    return out


OUTPUT_PATTERNS = ("hand_*.obj", "object_*.obj", "object_*_points.npy", "grasps.npz")


def _write_results(out, run, num: int, what: str) -> None:
    """Write a pipeline run's batches as they come into a temporary sibling folder, then swap them into ``out``.

    Memory stays flat in ``num`` (only the parameters are kept for grasps.npz). On failure or Ctrl+C nothing in
    ``out`` changes. The outputs of an earlier run in ``out`` (hand_*.obj, object_*, grasps.npz) are removed
    first, so runs never mix; other files stay.
    """
    import os
    import shutil
    import tempfile

    import numpy as np
    import trimesh
    from tqdm import tqdm

    from jhod_core.pipeline import join_batches

    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the result is an ordinary folder
    width = max(3, len(str(num - 1)))
    kept = []
    try:
        with tqdm(total=num, desc=what, unit="grasp", file=sys.stderr, disable=not sys.stderr.isatty(),
                  bar_format="{l_bar}{bar}| {n:.0f}/{total} [{elapsed}<{remaining}]") as bar:
            for item in run:
                if not isinstance(item, dict):
                    bar.update(item * num - bar.n)
                    continue
                for j, i in enumerate(item["index"]):
                    trimesh.Trimesh(item["vertices"][j], item["faces"], process=False).export(
                        os.path.join(tmp, f"hand_{i:0{width}d}.obj"))
                    if "object_meshes" in item:
                        item["object_meshes"][j].export(os.path.join(tmp, f"object_{i:0{width}d}.obj"))
                        np.save(os.path.join(tmp, f"object_{i:0{width}d}_points.npy"),
                                np.asarray(item["object_points"][j], dtype=np.float32))
                kept.append({k: item[k] for k in ("global_orient", "hand_pose", "transl", "keypoints", "seed",
                                                  "pool_index") if k in item})
        result = join_batches(kept)
        np.savez(os.path.join(tmp, "grasps.npz"), global_orient=result["global_orient"],
                 hand_pose=result["hand_pose"], transl=result["transl"], keypoints=result["keypoints"],
                 seed=np.int64(result["seed"]), **({"pool_index": result["pool_index"]} if "pool_index" in result
                                                 else {}))
        if not out.exists():
            os.replace(tmp, out)
            return
        for pattern in OUTPUT_PATTERNS:
            for old in out.glob(pattern):
                old.unlink()
        for name in sorted(os.listdir(tmp)):
            os.replace(os.path.join(tmp, name), out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def add_convert(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a public hand-object dataset into grasp shards and an object corpus",
        description="Read a dataset in its published layout and write DIR/grasps (grasp shards: right hands, "
        "object frame, metres, with the subjects' betas) and DIR/objects (an object corpus: meshes centred on their "
        "bounding box, manifest with source and licence). Left hands become right hands holding the mirrored "
        "object. Nothing of the dataset is bundled; bad input writes nothing. See docs/training_on_your_data.md.",
    )
    parser.add_argument("src", metavar="SRC", help="the dataset's root folder, as distributed")
    parser.add_argument("--from", dest="dataset", required=True, metavar="DATASET",
                        help="dataset layout: arctic, dexycb, grab, ho3d, oakink")
    parser.add_argument("--out", required=True, metavar="DIR", help="new (or empty) output folder")
    parser.add_argument("--mano", default=None, metavar="DIR_OR_FILE",
                        help="folder with MANO_RIGHT/MANO_LEFT .pkl or .npz (default: $JHOD_MANO_DIR); the "
                        "datasets' PCA poses and shapes need the real MANO")
    parser.add_argument("--models", default=None, metavar="DIR",
                        help="where the object models are when the dataset keeps them apart (HO-3D: the YCB folder "
                        "models/ branches off)")
    parser.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    try:
        from training.datasets import adapter
        from training.datasets.common import check_output_folder, convert
    except ImportError as exc:
        raise JHODError(f"jhod convert needs the training package (a checkout installed with pip install -e .): "
                        f"{exc}") from None
    from jhod_core.hand import load_hand_data

    try:
        module = adapter(args.dataset)
    except ValueError as exc:
        raise JHODError(str(exc)) from None
    src = Path(args.src)
    if not src.is_dir():
        raise JHODError(f"{src} is not a folder: give the dataset's root folder")
    out = check_output_folder(args.out)  # before the dataset is read
    extra = {"models": args.models} if args.models is not None else {}
    records = module.read(src, lambda side: load_hand_data(args.mano, side), **extra)
    result = convert(records, out, args.mano, module.LICENCE)
    print(json.dumps({**result, "dataset": args.dataset}))
    return 0


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_eval_grasp, add_hand, add_sample, add_sample_joint, add_convert]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jhod", description="JHOD Grasp Studio command line tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (JHODError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
