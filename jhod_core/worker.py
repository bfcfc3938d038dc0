"""The "External Python" backend of the Blender add-on: one sampling job from file to file.

    python -m jhod_core.worker IN.npz OUT.npz

IN.npz holds the object as ``vertices`` (V, 3) in metres + ``faces`` (F, 3), or as ``points`` (N, 3) (optional
``normals`` (N, 3), outward); optional ``side``, right/left, ``candidates`` per grasp, and steering: ``near`` (3,),
``approach`` (3,), ``grasp_type`` (see ``jhod_core.steering``); ``num``, ``seed``,
``steps``, ``device`` (auto/cpu/cuda) and ``weights_dir`` ("" = the default folder). ``sample_grasps`` runs on it;
OUT.npz receives ``global_orient`` (num, 3), ``hand_pose`` (num, 45), ``transl`` (num, 3) and
``keypoints`` (num, 21, 3), all in the points' frame; exit 0. On any failure OUT.npz holds one
``error`` string instead and the exit status is 1. With ``joint`` = 1 (no points) it samples hands
and objects together (``pipeline.iter_hand_object``, unrefined) and adds ``object_points`` (num, 2048, 3).
"""

from __future__ import annotations

import sys

import numpy as np

RESULT_KEYS = ("global_orient", "hand_pose", "transl", "keypoints")


def run(in_path: str) -> dict:
    from jhod_core.pipeline import CANDIDATES, collect, iter_hand_object, load_backend
    from jhod_core.sample import sample_grasps
    from jhod_core.steering import Steering

    with np.load(in_path, allow_pickle=False) as job:
        if "joint" in job and bool(job["joint"]):
            model = load_backend(str(job["weights_dir"]) or None, device=str(job["device"]))
            result = collect(iter_hand_object(model, int(job["num"]), seed=int(job["seed"]), steps=int(job["steps"])))
            return {key: np.asarray(result[key], dtype=np.float64) for key in (*RESULT_KEYS, "object_points")}
        obj = (np.asarray(job["vertices"], dtype=np.float64), np.asarray(job["faces"], dtype=np.int64)) \
            if "vertices" in job else np.asarray(job["points"], dtype=np.float64)
        num, seed, steps = int(job["num"]), int(job["seed"]), int(job["steps"])
        device = str(job["device"]) if "device" in job else "auto"
        weights_dir = str(job["weights_dir"]) if "weights_dir" in job else ""
        normals = np.asarray(job["normals"], dtype=np.float64) if "normals" in job else None
        side = str(job["side"]) if "side" in job else "right"
        candidates = int(job["candidates"]) if "candidates" in job else CANDIDATES
        steering = Steering(near=job["near"] if "near" in job else None,
                            approach=job["approach"] if "approach" in job else None,
                            grasp_type=str(job["grasp_type"]) if "grasp_type" in job else None)
    result = sample_grasps(obj, num, seed=seed, steps=steps, device=device, weights_dir=weights_dir or None,
                           normals=normals, side=side, candidates=candidates, steering=steering)
    return {key: np.asarray(result[key], dtype=np.float64) for key in RESULT_KEYS}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print("usage: python -m jhod_core.worker IN.npz OUT.npz", file=sys.stderr)
        return 2
    in_path, out_path = argv
    try:
        out = run(in_path)
    except Exception as exc:  # noqa: BLE001  every failure goes back to Blender as one message
        from jhod_core.errors import JHODError

        message = str(exc) if isinstance(exc, JHODError) else f"{type(exc).__name__}: {exc}"
        np.savez(out_path, error=np.array(message))
        print(f"error: {message}", file=sys.stderr)
        return 1
    np.savez(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
