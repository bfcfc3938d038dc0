"""Sampling grasps with a trained JHOD model: the Python API behind ``jhod sample`` / ``jhod sample-joint``.

* ``sample_grasps(mesh_or_points, num)``: grasps for a given object (conditional sampling,
  ``model.sampling.sample_conditional``). The object is a ``trimesh.Trimesh`` (validated like every
  object mesh: metres, 1 cm .. 1 m) or an (N, 3) point array, in its own frame. The model was trained
  on bounding-box-centred objects (OakInk's object-centric frame, ``geometry.mesh.normalize_object``),
  so 2048 surface points are drawn (seeded), centred on the bounding-box centre, encoded with the
  object autoencoder, and the sampled hand translations get the offset added back: every result is
  in the INPUT frame, in metres.
* ``sample_hand_object(num)``: hand and object together (``sample_joint``), in the model's
  object-centric frame. The object latents are decoded to 2048 points each and surfaced into a
  closed mesh with ``surface_points`` (alpha shape, paper sec. 4.1; convex hull fallback).

Weights: ``autoencoder.pt`` and ``denoiser.pt`` as written by ``training/train_autoencoder.py`` and
``training/train_diffusion.py``, read from ``weights_dir`` (default ``jhod_core/assets/model/``)
with ``torch.load(weights_only=True)``. A missing or unreadable file raises ``JHODError``.
Same inputs + seed -> same outputs (all randomness comes from ``seed``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from jhod_core.errors import JHODError, MeshError
from jhod_core.file_version import file_version
from jhod_core.sample_numpy import (CANDIDATES, DEFAULT_DDIM_STEPS, MAX_STEPS, MIRROR, NUM_POINTS, bbox_centre,  # noqa: F401
                                    candidates_per_grasp, check_counts, check_side, checked_points,
                                    finish_hands, subset_points)

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "assets" / "model"
WEIGHT_FILES = ("autoencoder.pt", "denoiser.pt")

TRAIN_HINT = (
    "train them with `python training/train_autoencoder.py --objects data/objects --out out/autoencoder` and "
    "`python training/train_diffusion.py --grasps data/grasps --objects data/objects "
    "--autoencoder out/autoencoder/autoencoder.pt --out out/diffusion`, then `python training/export_weights.py "
    "--autoencoder out/autoencoder/autoencoder.pt --denoiser out/diffusion/denoiser.pt --out DIR` and pass "
    "--weights DIR (Python: weights_dir=DIR)"
)


# --------------------------------------------------------------------------- checks and weights

def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` if available else ``cpu``; ``cuda`` without a GPU is a ``JHODError``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise JHODError("--device cuda was asked for but no CUDA GPU is available (use --device cpu or auto)")
        return "cuda"
    raise JHODError(f"--device must be auto, cpu or cuda, got {device!r}")


_LOADED_MODELS: dict[tuple, tuple] = {}


def load_models(weights_dir: str | os.PathLike | None = None, device: str = "cpu"):
    """``(autoencoder, denoiser)`` in eval mode on ``device``; one ``JHODError`` for anything missing or corrupt.

    Loaded once per file version (path, size, modification time) and device, and shared: reading 22 MB took
    ~50 ms of every ``sample_grasps`` call. Do not train or modify the returned models in place.
    """
    from jhod_core.model.autoencoder import ObjectAutoencoder
    from jhod_core.model.denoiser import JHODDenoiser

    folder = Path(weights_dir) if weights_dir is not None else DEFAULT_WEIGHTS_DIR
    if not folder.is_dir():
        raise JHODError(f"model weights folder not found: {folder} (it must hold {' and '.join(WEIGHT_FILES)}; "
                        f"leave --weights out for the shipped model, or {TRAIN_HINT})")
    missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
    if missing:
        raise JHODError(f"model weights missing: {', '.join(missing)} not found in {folder} ({TRAIN_HINT})")
    key = (file_version(*(folder / name for name in WEIGHT_FILES)), str(device))
    if key in _LOADED_MODELS:
        return _LOADED_MODELS[key]
    models = []
    for name, cls in zip(WEIGHT_FILES, (ObjectAutoencoder, JHODDenoiser)):
        path = folder / name
        try:
            model = cls.load(path, map_location="cpu")
        except Exception as exc:  # pickle/zip/key/shape errors all mean "not a usable weights file"
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise JHODError(f"model weights file {path} is corrupt or not a {name} written by the training "
                            f"scripts ({detail}); re-export it or {TRAIN_HINT}") from None
        models.append(model.to(device).eval())
    _LOADED_MODELS[key] = tuple(models)
    return _LOADED_MODELS[key]


# --------------------------------------------------------------------------- objects

def object_points(mesh_or_points, seed: int = 0, n: int = NUM_POINTS) -> np.ndarray:
    """(n, 3) float64 points of the object in its own frame: seeded surface sample of a validated mesh,
    or a seeded subset (with replacement if fewer than ``n``) of an (N, 3) point array."""
    from jhod_core.geometry.mesh import validate_mesh
    from jhod_core.geometry.sampling import sample_surface

    if isinstance(mesh_or_points, trimesh.Trimesh):
        validate_mesh(mesh_or_points)
        return sample_surface(mesh_or_points, n, seed=seed)[0]
    if isinstance(mesh_or_points, (trimesh.Scene, trimesh.PointCloud)) or not hasattr(mesh_or_points, "__len__"):
        raise MeshError(f"expected a trimesh.Trimesh or an (N, 3) point array, got {type(mesh_or_points).__name__}")
    return subset_points(checked_points(mesh_or_points), n, seed)


def object_surface(mesh_or_points, seed: int = 0, normals=None):
    """The ``ObjectSurface`` refinement measures against: mesh samples with face normals, or the points
    (with their outward ``normals`` when given, else estimated ones)."""
    from jhod_core.refine import ObjectSurface

    if isinstance(mesh_or_points, trimesh.Trimesh):
        return ObjectSurface.from_mesh(mesh_or_points, seed=seed)
    return ObjectSurface.from_points(mesh_or_points, normals)


# --------------------------------------------------------------------------- API

def sample_grasps(mesh_or_points, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS, device: str = "auto",
                  weights_dir: str | os.PathLike | None = None, refine: bool = True, normals=None,
                  side: str = "right", candidates: int = CANDIDATES) -> dict:
    """``num`` grasps of one object, all in the input object's frame (metres).

    ``normals`` (N, 3): outward normals of a point-array object, used by the refinement.
    ``side="left"``: left hands (right hands sampled on the mirrored object, then mirrored back).

    ``refine`` (default on) runs ``jhod_core.refine`` on the sampled grasps (contact, penetration,
    joint limits); ``refine=False`` returns the raw diffusion samples. ``candidates`` (with ``refine``):
    ``num * candidates`` grasps are sampled and refined and the ``num`` best-scored kept (``GraspRefiner.scores``).

    Returns ``global_orient`` (num, 3), ``hand_pose`` (num, 45), ``transl`` (num, 3) (MANO, flat hand
    mean, right hand), ``keypoints`` (num, 21, 3), ``vertices`` (num, V, 3), closed ``faces`` (F, 3),
    ``seed``, and ``offset`` (3,): the bounding-box centre that was subtracted before encoding.
    """
    check_counts(num, steps)
    check_side(side)
    per = candidates_per_grasp(candidates, refine)
    if side == "left":
        mesh_or_points, normals = _mirrored(mesh_or_points, normals)
    points = object_points(mesh_or_points, seed=seed)
    device = resolve_device(device)
    autoencoder, denoiser = load_models(weights_dir, device)

    import torch

    from jhod_core.model.sampling import sample_conditional

    offset = bbox_centre(points)
    if isinstance(mesh_or_points, trimesh.Trimesh):
        offset = np.asarray(mesh_or_points.bounds, dtype=np.float64).mean(axis=0)  # normalize_object's centre
    centred = torch.as_tensor(points - offset, dtype=torch.float32, device=device)[None]
    with torch.no_grad():
        latent = autoencoder.encode(centred)
        hand, _ = sample_conditional(denoiser, latent, num=int(num) * per, steps=int(steps), seed=int(seed))
    surface = object_surface(mesh_or_points, seed, normals) if refine else None
    result = finish_hands(hand.cpu().numpy(), offset, surface, side, keep=int(num))
    return {**result, "seed": int(seed), "offset": offset * MIRROR if side == "left" else offset}


def _mirrored(mesh_or_points, normals):
    """The object mirrored x -> -x (a mesh keeps outward normals: trimesh re-winds reflected faces)."""
    if isinstance(mesh_or_points, trimesh.Trimesh):
        return mesh_or_points.copy().apply_transform(np.diag([*MIRROR, 1.0])), None
    points = np.asarray(mesh_or_points, dtype=np.float64) * MIRROR if hasattr(mesh_or_points, "__len__") \
        else mesh_or_points
    return points, None if normals is None else np.asarray(normals, dtype=np.float64) * MIRROR


def sample_hand_object(num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS, device: str = "auto",
                       weights_dir: str | os.PathLike | None = None, refine: bool = True) -> dict:
    """``num`` hand-object pairs sampled jointly, in the object-centric frame (bbox centre ~ origin, metres).

    Returns the hand entries of ``sample_grasps`` plus ``object_points`` (num, 2048, 3) (decoded by
    the autoencoder) and ``object_meshes``: a closed ``trimesh.Trimesh`` per object (``surface_points``).
    """
    check_counts(num, steps)
    device = resolve_device(device)
    autoencoder, denoiser = load_models(weights_dir, device)

    import torch

    from jhod_core.model.sampling import sample_joint

    with torch.no_grad():
        hand, latent = sample_joint(denoiser, int(num), steps=int(steps), seed=int(seed))
        points = autoencoder.decode(latent.to(device, torch.float32)).cpu().numpy().astype(np.float64)
    meshes = [surface_points(p) for p in points]
    if refine:  # each hand against its own generated object
        parts = [finish_hands(hand[i:i + 1].cpu().numpy(), np.zeros(3), object_surface(m, seed))
                 for i, m in enumerate(meshes)]
        result = {k: np.concatenate([p[k] for p in parts]) if k != "faces" else parts[0][k] for k in parts[0]}
    else:
        result = finish_hands(hand.cpu().numpy(), np.zeros(3))
    return {**result, "object_points": points, "object_meshes": meshes, "seed": int(seed)}


# --------------------------------------------------------------------------- surfacing

ALPHA_FACTORS = (3.0, 4.0, 6.0, 9.0, 14.0, 20.0, 30.0)


def surface_points(points: np.ndarray, factors=ALPHA_FACTORS) -> trimesh.Trimesh:
    """A closed (watertight) triangle mesh through a point cloud: alpha shape, else convex hull.

    Alpha shape (Edelsbrunner & Muecke; the paper surfaces sampled objects with alpha shapes, sec. 4.1):
    the Delaunay tetrahedra of the points (scipy) whose circumradius is below ``alpha`` are kept. The
    removed tetrahedra reachable from outside the convex hull (through shared faces of removed
    tetrahedra) are the exterior; everything else (kept tetrahedra and cavities they enclose, such as
    the inside of a sampled *surface*) is the solid, and the triangles between solid and exterior form
    the surface, oriented outward (away from the solid tetrahedron's fourth vertex).
    ``alpha`` comes from the point spacing: ``d`` = median nearest-neighbour distance, and
    ``alpha = f * d`` for f in ``factors`` (3, 4, 6, 9, 14, 20, 30), smallest first; the first result that is
    a watertight, consistently oriented volume is returned. If none is (holes, non-manifold edges,
    or a degenerate cloud), the convex hull is returned (trimesh, scipy's Qhull), which is always
    closed; for a degenerate cloud (flat, collinear, fewer than 5 points) a box around it is returned.
    """
    from scipy.spatial import ConvexHull, Delaunay, QhullError, cKDTree

    points = np.asarray(points, dtype=np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    points = np.unique(points, axis=0)
    if len(points) >= 5:
        try:
            mesh = _alpha_shape(points, factors, Delaunay, cKDTree)
            if mesh is not None:
                return mesh
        except (QhullError, ValueError, np.linalg.LinAlgError):
            pass
        try:
            hull = ConvexHull(points)
            mesh = trimesh.Trimesh(points, hull.simplices, process=True)
            trimesh.repair.fix_normals(mesh)
            mesh.remove_unreferenced_vertices()
            if mesh.is_watertight and mesh.volume > 0:
                return mesh
        except (QhullError, ValueError):
            pass
    # degenerate (flat, collinear, < 5 points): a small box around them is still a closed mesh
    centre = (points.min(0) + points.max(0)) / 2 if len(points) else np.zeros(3)
    extent = np.maximum(np.ptp(points, axis=0) if len(points) else np.zeros(3), 1e-4)
    return trimesh.creation.box(extents=extent, transform=trimesh.transformations.translation_matrix(centre))


def _alpha_shape(points, factors, Delaunay, cKDTree):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    tri = Delaunay(points)
    tets, neighbors = tri.simplices, tri.neighbors                      # (T, 4); neighbor i is opposite vertex i
    a, b, c, d = (points[tets[:, i]] for i in range(4))
    u, v, w = b - a, c - a, d - a
    vw, wu, uv = np.cross(v, w), np.cross(w, u), np.cross(u, v)
    det = 2.0 * np.einsum("ij,ij->i", u, vw)
    num = (u * u).sum(1)[:, None] * vw + (v * v).sum(1)[:, None] * wu + (w * w).sum(1)[:, None] * uv
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.linalg.norm(num / det[:, None], axis=1)
    radius[~np.isfinite(radius)] = np.inf
    spacing = float(np.median(cKDTree(points).query(points, k=2)[0][:, 1]))
    if not spacing > 0:
        return None
    n_tets = len(tets)
    tet_idx = np.repeat(np.arange(n_tets), 4)
    nbr = neighbors.reshape(-1)
    outside = n_tets                                                    # virtual node: beyond the convex hull
    nbr_node = np.where(nbr < 0, outside, nbr)
    # the face of each tet opposite vertex i, and that vertex (for outward orientation)
    face_sets = np.array([[1, 2, 3, 0], [0, 3, 2, 1], [0, 1, 3, 2], [0, 2, 1, 3]])
    for factor in factors:
        open_ = np.append(radius >= factor * spacing, True)             # removed tets (+ the outside)
        link = open_[tet_idx] & open_[nbr_node]
        graph = coo_matrix((np.ones(int(link.sum())), (tet_idx[link], nbr_node[link])), shape=(n_tets + 1,) * 2)
        _, label = connected_components(graph, directed=False)
        exterior = label == label[outside]                              # removed tets reachable from outside
        solid = ~exterior[:n_tets]                                      # kept tets + enclosed cavities
        if not solid.any():
            continue
        boundary = solid[tet_idx] & exterior[nbr_node]
        faces = tets[:, face_sets[:, :3]].reshape(-1, 3)[boundary]
        opposite = tets[:, face_sets[:, 3]].reshape(-1)[boundary]
        if len(faces) < 4:
            continue
        p0, p1, p2 = (points[faces[:, i]] for i in range(3))
        normal = np.cross(p1 - p0, p2 - p0)
        flip = np.einsum("ij,ij->i", normal, points[opposite] - p0) > 0
        faces[flip] = faces[flip][:, ::-1]
        mesh = trimesh.Trimesh(points, faces, process=False)
        mesh.remove_unreferenced_vertices()
        if mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0:
            return mesh
    return None
