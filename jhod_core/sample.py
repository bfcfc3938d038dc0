"""The Python API behind ``jhod sample`` / ``jhod sample-joint``: ``jhod_core.pipeline`` with a loaded backend.

* ``sample_grasps(mesh_or_points, num)``: grasps for a given object in its own frame (metres): a mesh
  (``trimesh.Trimesh``, or anything with ``vertices`` and ``faces``) or an (N, 3) point array (+ ``normals``).
* ``sample_hand_object(num)``: hand and object together, in the model's object-centric frame; the decoded
  object points are surfaced into a closed, smooth mesh (``surface_points``) and each
  hand is refined against its own object.

Weights: ``autoencoder.npz`` and ``denoiser.npz`` in ``weights_dir`` (default: the shipped model), run on torch
when it is installed (``backend="auto"``) or NumPy. Same inputs + seed -> same outputs on every path and
backend, and grasp i of a seed does not depend on ``num`` (see ``jhod_core.pipeline``).
"""

from __future__ import annotations

import os

import numpy as np
import trimesh

from jhod_core.hand.params import join_params
from jhod_core.pipeline import (CANDIDATES, DEFAULT_DDIM_STEPS, PAIR_CANDIDATES, collect, iter_grasps,
                                iter_hand_object, load_backend, pair_hands)


def sample_grasps(mesh_or_points, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS, device: str = "auto",
                  weights_dir: str | os.PathLike | None = None, refine: bool = True, normals=None,
                  side: str = "right", candidates: int = CANDIDATES, method: str = "ddim", backend: str = "auto",
                  first: int = 0, progress=None, steering=None) -> dict:
    """Grasps ``first .. first + num - 1`` of one object, all in the input object's frame (metres).

    ``normals`` (N, 3): outward normals of a point-array object, used by the refinement.
    ``side="left"``: left hands (right hands sampled on the mirrored object, then mirrored back).
    ``refine`` (default) refines every sample and keeps the best of each grasp's ``candidates``;
    ``refine=False`` returns the raw diffusion samples. ``progress(fraction)`` is called as work is done.
    ``steering``: a ``jhod_core.steering.Steering`` (where to hold, approach, grasp type); the grasps that best
    meet it are chosen from several times as many samples (+ ``pool_index``).

    Returns ``global_orient`` (num, 3), ``hand_pose`` (num, 45), ``transl`` (num, 3) (MANO, flat hand
    mean), ``keypoints`` (num, 21, 3), ``vertices`` (num, V, 3), closed ``faces`` (F, 3), ``index``,
    ``seed``, and ``offset`` (3,): the bounding-box centre that was subtracted before encoding.
    """
    model = load_backend(weights_dir, backend, device)
    return collect(iter_grasps(model, mesh_or_points, num, seed=seed, steps=steps, method=method, refine=refine,
                               candidates=candidates, side=side, normals=normals, first=first, steering=steering),
                   progress)


def sample_hand_object(num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS, device: str = "auto",
                       weights_dir: str | os.PathLike | None = None, refine: bool = True, method: str = "ddim",
                       backend: str = "auto", first: int = 0, progress=None,
                       candidates: int = PAIR_CANDIDATES) -> dict:
    """``num`` hand-object pairs sampled jointly, in the object-centric frame (bbox centre ~ origin, metres).

    ``refine`` (default): each hand is refined against its surfaced object and chosen among ``candidates``
    (itself and conditional samples on that object, ``pipeline.pair_hands``); else the raw joint hands.

    Returns the hand entries of ``sample_grasps`` plus ``object_points`` (num, 2048, 3) (decoded by
    the autoencoder) and ``object_meshes``: a closed ``trimesh.Trimesh`` per object (``surface_points``).
    """
    model = load_backend(weights_dir, backend, device)
    result = collect(iter_hand_object(model, num, seed=seed, steps=steps, method=method, first=first), progress)
    return surface_pairs(result, model if refine else None, candidates, steps, method)


def surface_pairs(pairs: dict, backend=None, candidates: int = PAIR_CANDIDATES, steps: int = DEFAULT_DDIM_STEPS,
                  method: str = "ddim") -> dict:
    """Jointly sampled pairs (a batch or a whole result) with each object surfaced (``object_meshes``: closed
    smooth meshes) and, given the ``backend`` that sampled them, each hand refined against its own object and
    chosen among ``candidates`` (``pipeline.pair_hands``); without one the hands stay as sampled."""
    pairs = {**pairs, "object_meshes": [surface_points(p) for p in pairs["object_points"]]}
    if backend is not None:
        params = join_params(pairs["global_orient"], pairs["hand_pose"], pairs["transl"])
        parts = pair_hands(backend, params, pairs["object_meshes"], seed=pairs["seed"],
                           indices=[int(i) for i in pairs["index"]], candidates=candidates, steps=steps,
                           method=method)
        for key in ("global_orient", "hand_pose", "transl", "keypoints", "vertices"):
            pairs[key] = np.concatenate([part[key] for part in parts])
    return pairs


# --------------------------------------------------------------------------- surfacing

def surface_points(points: np.ndarray) -> trimesh.Trimesh:
    """A closed (watertight), smooth triangle mesh through a point cloud (``geometry.surfacing.points_to_mesh``,
    the method the Blender add-on uses too; a few thousand vertices). The paper surfaces sampled objects with alpha
    shapes (sec. 4.1); on the decoder's 2048 points those came out faceted (~900 vertices), so we use a smooth
    implicit surface instead. Clouds it cannot surface (fewer than 8 points, flat) get their convex hull, or a box
    around them when even that is degenerate."""
    from .geometry.surfacing import points_to_mesh

    points = np.asarray(points, dtype=np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    try:
        vertices, faces = points_to_mesh(points)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if mesh.is_watertight and mesh.volume > 0:
            return mesh
    except ValueError:
        pass
    points = np.unique(points, axis=0)
    if len(points) >= 5:
        try:
            hull = trimesh.convex.convex_hull(points)
            if hull.is_watertight and hull.volume > 0:
                return hull
        except Exception:  # noqa: BLE001  Qhull refuses flat or collinear clouds
            pass
    # degenerate (flat, collinear, < 5 points): a small box around them is still a closed mesh
    centre = (points.min(0) + points.max(0)) / 2 if len(points) else np.zeros(3)
    extent = np.maximum(np.ptp(points, axis=0) if len(points) else np.zeros(3), 1e-4)
    return trimesh.creation.box(extents=extent, transform=trimesh.transformations.translation_matrix(centre))
