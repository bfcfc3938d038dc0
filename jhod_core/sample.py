"""The Python API behind ``jhod sample`` / ``jhod sample-joint``: ``jhod_core.pipeline`` with a loaded backend.

* ``sample_grasps(mesh_or_points, num)``: grasps for a given object in its own frame (metres): a mesh
  (``trimesh.Trimesh``, or anything with ``vertices`` and ``faces``) or an (N, 3) point array (+ ``normals``).
* ``sample_hand_object(num)``: hand and object together, in the model's object-centric frame; the decoded
  object points are surfaced into a closed mesh (``surface_points``: alpha shape, paper sec. 4.1) and each
  hand is refined against its own object.

Weights: ``autoencoder.npz`` and ``denoiser.npz`` in ``weights_dir`` (default: the shipped model), run on torch
when it is installed (``backend="auto"``) or NumPy. Same inputs + seed -> same outputs on every path and
backend, and grasp i of a seed does not depend on ``num`` (see ``jhod_core.pipeline``).
"""

from __future__ import annotations

import os

import numpy as np
import trimesh

from jhod_core.pipeline import (CANDIDATES, DEFAULT_DDIM_STEPS, collect, iter_grasps, iter_hand_object,
                                load_backend, refine_result)


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
                       backend: str = "auto", first: int = 0, progress=None) -> dict:
    """``num`` hand-object pairs sampled jointly, in the object-centric frame (bbox centre ~ origin, metres).

    Returns the hand entries of ``sample_grasps`` plus ``object_points`` (num, 2048, 3) (decoded by
    the autoencoder) and ``object_meshes``: a closed ``trimesh.Trimesh`` per object (``surface_points``).
    """
    model = load_backend(weights_dir, backend, device)
    result = collect(iter_hand_object(model, num, seed=seed, steps=steps, method=method, first=first), progress)
    return surface_pairs(result, refine)


def surface_pairs(pairs: dict, refine: bool = True) -> dict:
    """Jointly sampled pairs (a batch or a whole result) with each object surfaced (``object_meshes``: closed
    alpha-shape meshes) and, with ``refine``, each hand refined against its own object."""
    pairs = {**pairs, "object_meshes": [surface_points(p) for p in pairs["object_points"]]}
    if refine:
        parts = [refine_result({k: pairs[k][i:i + 1] for k in ("global_orient", "hand_pose", "transl")},
                               *_surface_samples(mesh, pairs["seed"])) for i, mesh in enumerate(pairs["object_meshes"])]
        for key in ("global_orient", "hand_pose", "transl", "keypoints", "vertices"):
            pairs[key] = np.concatenate([part[key] for part in parts])
    return pairs


def _surface_samples(mesh: trimesh.Trimesh, seed: int):
    from jhod_core.geometry.sampling import sample_triangles
    from jhod_core.pipeline import SURFACE_POINTS

    points, normals, _ = sample_triangles(mesh.vertices, mesh.faces, SURFACE_POINTS, seed=seed)
    return points, normals


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
