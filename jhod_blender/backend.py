"""Where grasps are sampled: in this Python (built-in backend) or in an external Python with torch.

`run_sampler(mesh_m, num, seed, steps, prefs)` returns ``global_orient`` (num, 3), ``hand_pose`` (num, 45),
``transl`` (num, 3), ``keypoints`` (num, 21, 3) in the mesh's frame (metres), or raises JHODError; ``mesh_m`` is
(vertices, triangles) in metres. `check_backend(prefs)` validates the settings without running anything.
Both backends run ``jhod_core.pipeline``, so a seed gives the grasps of ``jhod sample`` on the same mesh.

* NUMPY (default): the pipeline in Blender's own Python on the NumPy backend, with the shipped weights or
  the ``.npz`` files in the checkpoint folder. No torch, no pip.
* EXTERNAL: ``python -m jhod_core.worker IN.npz OUT.npz`` with ``prefs.python_path`` (or this
  interpreter when empty and torch is importable here), through temporary npz files: torch, CUDA.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .core import JHODError, join_params, pipeline

RESULT_KEYS = ("global_orient", "hand_pose", "transl", "keypoints")
# a checkout (jhod_blender next to jhod_core): the worker can be run from there
_CHECKOUT = Path(__file__).resolve().parents[1]


def _abspath(path: str) -> str:
    try:
        import bpy

        return bpy.path.abspath(path)
    except ImportError:  # pragma: no cover - outside Blender
        return os.path.abspath(os.path.expanduser(path))


def weights_dir(prefs) -> str | None:
    """The weights folder from the preferences' checkpoint path (a file there means its folder); None = default."""
    path = (getattr(prefs, "checkpoint_path", "") or "").strip()
    if not path:
        return None
    path = _abspath(path)
    return str(Path(path).parent) if os.path.isfile(path) else path


def _torch_here() -> bool:
    return importlib.util.find_spec("torch") is not None


def _external_python(prefs) -> str:
    path = (getattr(prefs, "python_path", "") or "").strip()
    if path:
        path = _abspath(path)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise JHODError(f"External Python not found or not executable: {path} (set it in the add-on preferences)")
        return path
    if _torch_here():
        return sys.executable
    raise JHODError("External Python backend: set the Python interpreter (one with torch and jhod_core installed) "
                    "in the add-on preferences")


def check_backend(prefs) -> None:
    """Validate the backend settings (interpreter, weights folder) before anything else runs."""
    folder = weights_dir(prefs)
    if folder is not None and not os.path.isdir(folder):
        raise JHODError(f"Model weights folder not found: {folder} (Checkpoint in the add-on preferences)")
    if prefs.backend == "EXTERNAL":
        _external_python(prefs)
    else:
        numpy_sampler(folder)


def _is_jhod_error(exc: BaseException) -> bool:
    # jhod_core.errors.JHODError may be a different class from the bundled copy the add-on imports
    return any(cls.__name__ == "JHODError" for cls in type(exc).__mro__)


def numpy_sampler(folder: str | None):
    """The built-in backend's model for a weights folder (None: the shipped one), loaded once per file version."""
    try:
        return pipeline.load_backend(folder, "numpy")
    except Exception as exc:
        if _is_jhod_error(exc):
            raise JHODError(str(exc)) from None
        raise


class SamplingJob:
    """One pipeline run that advances in small steps: `step()` (True when finished, `fraction` done,
    `result` set), `run()` to the end, `cancel()` (stops the model loop or kills the worker)."""

    def __init__(self, steps, keys):
        self._steps, self._keys = steps, keys
        self._batches = []
        self.fraction, self.result = 0.0, None

    def step(self) -> bool:
        try:
            item = next(self._steps)
            if isinstance(item, dict):
                self._batches.append(item)
            else:
                self.fraction = float(item)
            return False
        except StopIteration:
            joined = pipeline.join_batches(self._batches)
            self.result = {key: np.asarray(joined[key], dtype=np.float64) for key in self._keys}
            self.fraction = 1.0
            return True
        except Exception as exc:
            if _is_jhod_error(exc):
                raise JHODError(str(exc)) from None
            raise

    def run(self) -> dict:
        while not self.step():
            pass
        return self.result

    def cancel(self) -> None:
        self._steps.close()


def _iter_external(mesh_m, num, seed, steps, folder, python: str, joint: bool = False, side: str = "right",
                   candidates: int = 1, steering=None):
    env = dict(os.environ)
    if (_CHECKOUT / "jhod_core" / "worker.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_CHECKOUT), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="jhod_") as tmp:
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        job = {"joint": 1} if joint else {"vertices": np.asarray(mesh_m[0], dtype=np.float64),
                                          "faces": np.asarray(mesh_m[1], dtype=np.int64)}
        if steering is not None:
            job.update({key: value for key, value in (("near", steering.near), ("approach", steering.approach),
                                                      ("grasp_type", steering.grasp_type)) if value is not None})
        np.savez(in_path, num=int(num), seed=int(seed), steps=int(steps), device="auto", weights_dir=folder or "",
                 side=side, candidates=int(candidates), **job)
        try:
            proc = subprocess.Popen([python, "-m", "jhod_core.worker", in_path, out_path], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
        except OSError as exc:
            raise JHODError(f"worker failed: could not run {python}: {exc}") from None
        try:
            while proc.poll() is None:
                yield 0.5  # the worker reports no progress; Blender stays responsive meanwhile
                time.sleep(0.02)
        finally:
            if proc.poll() is None:  # cancelled
                proc.kill()
            _, stderr = proc.communicate()
        if not os.path.isfile(out_path):
            tail = (stderr or "").strip().splitlines()
            raise JHODError(f"worker failed (exit {proc.returncode}): {tail[-1] if tail else 'no output'}")
        with np.load(out_path, allow_pickle=False) as out:
            if "error" in out or proc.returncode != 0:
                message = str(out["error"]) if "error" in out else f"exit {proc.returncode}"
                raise JHODError(f"worker failed: {message}")
            result = {key: np.asarray(out[key]) for key in out.files}
        yield result


def start_sampler(mesh_m, num: int, seed: int, steps: int, prefs, side: str = "right",
                  candidates: int = 1, steering=None) -> SamplingJob:
    """A job sampling `num` grasps (`side` hands) on a mesh (vertices (V, 3) in metres, triangles (T, 3));
    `candidates` samples per grasp, the best-scored kept after refinement; `steering` (jhod_core.steering.Steering,
    mesh frame) chooses the grasps that best meet it among several times as many."""
    check_backend(prefs)
    folder = weights_dir(prefs)
    if prefs.backend == "EXTERNAL":
        run = _iter_external(mesh_m, num, seed, steps, folder, _external_python(prefs), side=side,
                             candidates=candidates, steering=steering)
    else:
        run = pipeline.iter_grasps(numpy_sampler(folder), mesh_m, int(num), seed=int(seed), steps=int(steps),
                                   side=side, candidates=int(candidates), steering=steering)
    return SamplingJob(run, RESULT_KEYS)


def start_joint_sampler(num: int, seed: int, steps: int, prefs) -> SamplingJob:
    """A job sampling `num` hands with generated objects (unrefined): + ``object_points`` (num, 2048, 3)."""
    check_backend(prefs)
    folder = weights_dir(prefs)
    if prefs.backend == "EXTERNAL":
        run = _iter_external(None, num, seed, steps, folder, _external_python(prefs), joint=True)
    else:
        run = pipeline.iter_hand_object(numpy_sampler(folder), int(num), seed=int(seed), steps=int(steps))
    return SamplingJob(run, (*RESULT_KEYS, "object_points"))


def run_sampler(mesh_m, num: int, seed: int, steps: int, prefs, side: str = "right", candidates: int = 1) -> dict:
    """Sample `num` grasps on a mesh (vertices in metres, triangles) with the chosen backend."""
    return start_sampler(mesh_m, num, seed, steps, prefs, side, candidates).run()


def pair_hands(folder: str | None, result: dict, meshes_m: list, seed: int, steps: int,
               side: str = "right") -> list[dict]:
    """The hands of jointly sampled pairs 0 .. P - 1 (`result`: their right-hand entries) each refined against its
    surfaced object (`meshes_m`: (vertices in metres, triangles) per pair) and chosen among conditional samples on
    it (``pipeline.pair_hands``, on NumPy with the weights of `folder` whatever the backend); ``side="left"``:
    mirrored into left hands holding the mirrored meshes."""
    params = join_params(result["global_orient"], result["hand_pose"], result["transl"])
    chosen = pipeline.pair_hands(numpy_sampler(folder), params, list(meshes_m), seed=int(seed), steps=int(steps),
                                 side=side)
    return [{key: np.asarray(pair[key], dtype=np.float64) for key in RESULT_KEYS} for pair in chosen]


def refine(result: dict, mesh_m, seed: int, side: str = "right") -> dict:
    """Right hands of `result` refined against a mesh (vertices in metres, triangles), sampled as the pipeline
    samples objects; ``side="left"``: then mirrored (x -> -x) into left hands holding the mirrored mesh."""
    from .core import sample_triangles

    points, normals, _ = sample_triangles(*mesh_m, pipeline.SURFACE_POINTS, seed=seed)
    refined = pipeline.refine_result(result, points, normals, side)
    return {key: np.asarray(refined[key], dtype=np.float64) for key in RESULT_KEYS}
