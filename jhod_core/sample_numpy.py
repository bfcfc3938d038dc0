"""Sampling with the shipped model in NumPy only (no torch, no trimesh, SciPy optional): Blender's path.

The same pipeline as ``jhod_core.sample`` (and the steps both share live here):
points (metres, any frame) -> seeded 2048-point subset -> bounding-box centred -> object latent ->
DDIM -> MANO parameters + offset -> refinement (``jhod_core.refine``) -> hand vertices/keypoints.

``NumpySampler(weights_dir)`` reads ``autoencoder.npz`` and ``denoiser.npz`` (plain arrays, no pickle)
as exported by the training scripts. Its initial noise comes from NumPy's generator, so a seed gives
the same grasps every time on this path, but not the same as the torch path's grasps for that seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import JHODError, MeshError
from .file_version import file_version
from .model.numpy_inference import drain
from .model.spec import DEFAULT_DDIM_STEPS

NUM_POINTS = 2048
MAX_STEPS = 1000
NUMPY_WEIGHT_FILES = ("autoencoder.npz", "denoiser.npz")
# Candidates per returned grasp: sampling 3 and keeping the best-scored third after refinement lowers the
# simulation displacement and penetration (docs/model.md, "Choosing the defaults"); costs sampling and refinement
# time, which the default DDIM steps (25, not 50) pay for.
CANDIDATES = 3
MAX_CANDIDATES = 16
MIRROR = np.array([-1.0, 1.0, 1.0])  # left hands: sample right hands on the object mirrored x -> -x
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "assets" / "model"


def candidates_per_grasp(candidates: int, refine: bool) -> int:
    """Samples drawn per returned grasp: ``candidates`` when refining (the best-scored are kept), else 1."""
    if int(candidates) < 1 or int(candidates) > MAX_CANDIDATES:
        raise JHODError(f"candidates per grasp must be 1..{MAX_CANDIDATES}, got {candidates}")
    return int(candidates) if refine else 1


def check_counts(num: int, steps: int) -> None:
    """``num`` >= 1 samples and ``steps`` in 1..1000 reverse steps, else ``JHODError``."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise JHODError(f"--num must be a positive integer (number of grasps), got {num!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise JHODError(f"--steps must be an integer in 1..{MAX_STEPS} (reverse diffusion steps), got {steps!r}")


def checked_points(points) -> np.ndarray:
    """An (N, 3) finite float64 array of an object 1 cm .. 1 m across (metres), else ``MeshError``."""
    try:
        points = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MeshError(f"object points are not a numeric (N, 3) array: {exc}") from None
    if points.ndim != 2 or points.shape[1] != 3:
        raise MeshError(f"object points must be an (N, 3) array, got shape {points.shape}")
    if len(points) == 0:
        raise MeshError("object point array is empty")
    if not np.isfinite(points).all():
        raise MeshError("object points contain NaN or infinite coordinates")
    size = float(np.ptp(points, axis=0).max())
    if not 0.01 <= size <= 1.0:
        raise MeshError(f"object is {size:.4g} m across (largest bounding-box side); expected 0.01..1 m. "
                        f"Points must be in metres: is the array in millimetres or centimetres?")
    return points


def check_side(side: str) -> None:
    if side not in ("right", "left"):
        raise JHODError(f"side must be 'right' or 'left', got {side!r}")


def subset_points(points: np.ndarray, n: int = NUM_POINTS, seed: int = 0) -> np.ndarray:
    """A seeded subset of n points (with replacement if fewer than n)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(points))[:n] if len(points) >= n else rng.integers(len(points), size=n)
    return points[idx]


def bbox_centre(points: np.ndarray) -> np.ndarray:
    """The bounding-box centre: the model's object frame (``geometry.mesh.normalize_object``)."""
    return (points.min(axis=0) + points.max(axis=0)) / 2


def finish_hands(raw_hand: np.ndarray, offset: np.ndarray, surface=None, side: str = "right",
                 keep: int | None = None) -> dict:
    """Raw hand params (num, 51) in the centred frame -> MANO params, keypoints, vertices in frame + offset.

    With an ``ObjectSurface`` (in the output frame) the grasps are refined first (``jhod_core.refine``),
    and with ``keep`` only the ``keep`` best-scored of them (``GraspRefiner.scores``) stay, in sample order.
    ``side="left"``: the object was mirrored (x -> -x) before sampling; the right hands are mirrored
    back into left hands (``hand.mirror_grasp``).
    """
    from .hand import load_hand_data, mirror_grasp, numpy_forward

    hand = np.array(raw_hand, dtype=np.float64)
    hand[:, 48:51] += offset
    data = load_hand_data(None, "right")
    if surface is not None:
        from .refine import GraspRefiner

        refiner = GraspRefiner.for_hand(data)
        hand = refiner(hand, surface)
        if keep is not None and keep < len(hand):
            hand = hand[np.sort(np.argsort(-refiner.scores(hand, surface), kind="stable")[:keep])]
    global_orient, hand_pose, transl = hand[:, :3], hand[:, 3:48], hand[:, 48:51]
    if side == "left":
        global_orient, hand_pose, transl = mirror_grasp(global_orient, hand_pose, transl)
        data = load_hand_data(None, "left")
    vertices, _, keypoints = numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)
    return {"global_orient": global_orient, "hand_pose": hand_pose, "transl": transl, "keypoints": keypoints,
            "vertices": vertices, "faces": np.asarray(data.closed_faces)}


def _scaled(steps, share: float):
    """Re-yield a generator's progress fractions scaled to ``share``; return its return value."""
    result = None
    while True:
        try:
            fraction = next(steps)
        except StopIteration as stop:
            result = stop.value
            break
        yield share * fraction
    return result


def refine_result(result: dict, points, normals, side: str = "right") -> dict:
    """``result`` (right hand entries of a sampler) refined against surface ``points`` (N, 3) with outward
    ``normals`` (N, 3), same frame: for hands whose object was surfaced after sampling. ``side="left"``
    returns the refined hands mirrored (x -> -x) into left hands: they hold the mirrored object."""
    from .refine import ObjectSurface

    check_side(side)
    params = np.concatenate([result["global_orient"], result["hand_pose"], result["transl"]], axis=1)
    surface = ObjectSurface.from_points(points, normals)
    return {**result, **finish_hands(params, np.zeros(3), surface, side)}


def _weights_folder(weights_dir: str | os.PathLike | None) -> Path:
    folder = Path(weights_dir) if weights_dir is not None else DEFAULT_WEIGHTS_DIR
    missing = [name for name in NUMPY_WEIGHT_FILES if not (folder / name).is_file()]
    if missing:
        raise JHODError(f"model weights missing: {', '.join(missing)} not found in {folder} (write them with "
                        f"`python training/export_weights.py --autoencoder A.pt --denoiser D.pt --out DIR`)")
    return folder


_LOADED_SAMPLERS: dict[tuple, "NumpySampler"] = {}


class NumpySampler:
    """The shipped (or a user's exported) model evaluated with NumPy."""

    def __init__(self, weights_dir: str | os.PathLike | None = None):
        from .model.numpy_inference import NumpyDenoiser, NumpyObjectAutoencoder

        folder = _weights_folder(weights_dir)
        try:
            self.autoencoder = NumpyObjectAutoencoder(folder / "autoencoder.npz")
            self.denoiser = NumpyDenoiser(folder / "denoiser.npz")
        except Exception as exc:  # zip/key/shape errors all mean "not a usable weights file"
            raise JHODError(f"model weights in {folder} are corrupt or not exported by the training scripts "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from None

    @classmethod
    def cached(cls, weights_dir: str | os.PathLike | None = None) -> "NumpySampler":
        """The sampler for a weights folder, loaded once per file version (~0.2 s to load; a long-lived process
        such as Blender keeps it between calls and reloads re-exported weights)."""
        folder = _weights_folder(weights_dir)
        key = file_version(*(folder / name for name in NUMPY_WEIGHT_FILES))
        if key not in _LOADED_SAMPLERS:
            _LOADED_SAMPLERS[key] = cls(folder)
        return _LOADED_SAMPLERS[key]

    def sample_grasps(self, *args, **kwargs) -> dict:
        """``num`` grasps on an object given as surface points (N, 3) in metres (its own frame).

        ``normals`` (N, 3), outward, make the refinement exact on concave objects; without them they
        are estimated from the points (needs SciPy).
        """
        return drain(self.iter_grasps(*args, **kwargs))

    def sample_hand_object(self, *args, **kwargs) -> dict:
        """``num`` hands with generated objects: hand entries + ``object_points`` (num, 2048, 3), object frame.

        Unrefined: the caller surfaces the points (alpha shape in ``jhod_core.sample.surface_points``
        where SciPy is available, OpenVDB in Blender) and may refine against that surface.
        """
        return drain(self.iter_hand_object(*args, **kwargs))

    def iter_grasps(self, points, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS, normals=None,
                    refine: bool = True, side: str = "right", candidates: int = CANDIDATES):
        """``sample_grasps`` as a generator of progress fractions (0..1; the result is its return value),
        so that a caller such as Blender's modal operator can show progress and stop between steps.
        ``side="left"`` gives left hands: the model grasps the mirrored object with right hands.
        ``candidates``: samples per returned grasp (the best-scored after refinement are kept)."""
        check_counts(num, steps)
        check_side(side)
        per = candidates_per_grasp(candidates, refine)
        points = checked_points(points)
        if side == "left":
            points = points * MIRROR
            normals = None if normals is None else np.asarray(normals, dtype=np.float64) * MIRROR
        cloud = subset_points(points, NUM_POINTS, seed)
        offset = bbox_centre(cloud)
        latent = self.autoencoder.encode(cloud - offset)
        ddim = self.denoiser.iter_conditional(latent, num=int(num) * per, steps=int(steps), seed=int(seed))
        raw_hand, _ = yield from _scaled(ddim, 0.9)
        surface = None
        if refine:
            from .refine import ObjectSurface

            surface = ObjectSurface.from_points(points, normals)
        result = finish_hands(raw_hand, offset, surface, side, keep=int(num))
        return {**result, "seed": int(seed), "offset": offset * MIRROR if side == "left" else offset}

    def iter_hand_object(self, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS):
        """``sample_hand_object`` as a generator of progress fractions (the result is its return value)."""
        check_counts(num, steps)
        raw_hand, latent = yield from _scaled(self.denoiser.iter_joint(int(num), steps=int(steps), seed=int(seed)), 0.9)
        points = self.autoencoder.decode(latent)
        return {**finish_hands(raw_hand, np.zeros(3)), "object_points": points, "seed": int(seed)}
