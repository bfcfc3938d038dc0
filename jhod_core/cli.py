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
from jhod_core.sample_numpy import CANDIDATES, DEFAULT_DDIM_STEPS


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
        metrics = evaluate_grasp(obj, hand.vertices, hand.faces, sim=not args.no_sim, pitch=args.pitch)
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


def _load_checked(path: str, role: str):
    """Load + validate one mesh; errors and warnings name its role (and file, if not already said)."""
    from jhod_core.geometry.mesh import load_mesh, validate_mesh

    try:
        mesh = load_mesh(path)
    except JHODError as exc:
        raise type(exc)(f"{role}: {exc}") from exc
    try:
        warnings = validate_mesh(mesh)
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
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--steps", type=int, default=DEFAULT_DDIM_STEPS,
                        help=f"DDIM reverse steps, 1..1000 (default {DEFAULT_DDIM_STEPS})")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--no-refine", action="store_true",
                        help="skip the post-sampling refinement (contact, penetration, joint limits)")
    parser.add_argument("--weights", default=None, metavar="DIR",
                        help="folder with autoencoder.pt and denoiser.pt (default jhod_core/assets/model/)")


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
                        help=f"samples drawn per returned grasp; the best-scored after refinement are kept "
                        f"(default {CANDIDATES}; 1 = fastest; ignored with --no-refine)")
    parser.set_defaults(func=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from jhod_core.sample import candidates_per_grasp, check_counts, sample_grasps

    check_counts(args.num, args.steps)
    candidates_per_grasp(args.candidates, True)
    out = _check_out_dir(args.out)
    mesh = _load_checked(args.object, "object")
    result = sample_grasps(mesh, args.num, seed=args.seed, steps=args.steps, device=args.device,
                           weights_dir=args.weights, refine=not args.no_refine, side=args.side,
                           candidates=args.candidates)
    _write_results(out, result, objects=None)
    print(json.dumps({"out": str(out), "num": args.num, "seed": args.seed}))
    return 0


def add_sample_joint(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample-joint",
        help="sample hands and objects together with the JHOD model",
        description="Sample N hand-object pairs jointly (object-centric frame, metres). Writes per pair "
        "DIR/object_000.obj (decoded points surfaced as a closed alpha-shape mesh, convex hull fallback), "
        "DIR/object_000_points.npy (2048 x 3), DIR/hand_000.obj, and DIR/grasps.npz for all pairs.",
    )
    _add_sampling_options(parser, "number of hand-object pairs (>= 1)")
    parser.set_defaults(func=run_sample_joint)


def run_sample_joint(args: argparse.Namespace) -> int:
    from jhod_core.sample import check_counts, sample_hand_object

    check_counts(args.num, args.steps)
    out = _check_out_dir(args.out)
    result = sample_hand_object(args.num, seed=args.seed, steps=args.steps, device=args.device,
                                weights_dir=args.weights, refine=not args.no_refine)
    _write_results(out, result, objects=(result["object_meshes"], result["object_points"]))
    print(json.dumps({"out": str(out), "num": args.num, "seed": args.seed}))
    return 0


def _check_out_dir(path: str):
    from pathlib import Path

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise JHODError(f"--out {out} exists and is not a folder")
    return out


def _write_results(out, result: dict, objects=None) -> None:
    """Write every file into a temporary sibling folder, then move them into ``out`` (created if absent).

    Nothing is written before all results exist; on failure the temporary folder is removed, and a
    pre-existing ``out`` keeps its unrelated files (same-named outputs in it are replaced).
    """
    import os
    import shutil
    import tempfile

    import numpy as np
    import trimesh

    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    try:
        for i, verts in enumerate(result["vertices"]):
            trimesh.Trimesh(verts, result["faces"], process=False).export(os.path.join(tmp, f"hand_{i:03d}.obj"))
        if objects is not None:
            meshes, points = objects
            for i, (mesh, pts) in enumerate(zip(meshes, points)):
                mesh.export(os.path.join(tmp, f"object_{i:03d}.obj"))
                np.save(os.path.join(tmp, f"object_{i:03d}_points.npy"), np.asarray(pts, dtype=np.float32))
        np.savez(os.path.join(tmp, "grasps.npz"), global_orient=result["global_orient"],
                 hand_pose=result["hand_pose"], transl=result["transl"], keypoints=result["keypoints"],
                 seed=np.int64(result["seed"]))
        if not out.exists():
            os.replace(tmp, out)
            return
        for name in sorted(os.listdir(tmp)):
            os.replace(os.path.join(tmp, name), out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_eval_grasp, add_hand, add_sample, add_sample_joint]


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
