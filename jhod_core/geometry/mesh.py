"""Loading, checking and normalising object meshes.

Conventions (used by every module of ``jhod_core.geometry`` and ``jhod_core.metrics``):

* Units are **metres**. A file is read as-is; nothing guesses its unit. ``validate_mesh`` rejects
  objects whose largest bounding-box side is outside [1 cm, 1 m], which catches files written in
  millimetres or centimetres.
* The **object-centric frame** (OakInk convention, oikit ``OakInkShape``): the object is translated
  so that the centre of its axis-aligned bounding box, ``(min + max) / 2``, is the origin. It is not
  rotated and not rescaled. ``normalize_object`` returns the translated copy and the offset that was
  subtracted, so ``original = normalized + offset``.
* Meshes are geometry only: texture coordinates and materials are dropped, and vertices that share
  a position are welded so that a closed surface exported with texture seams (or as STL triangle
  soup) reads as watertight.
* Functions never modify the mesh they are given.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from jhod_core.errors import MeshError

SUPPORTED_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf", ".off")


def load_mesh(path: str | os.PathLike) -> trimesh.Trimesh:
    """Read a triangle mesh (obj/ply/stl/glb/gltf/off) as one ``trimesh.Trimesh``.

    A scene (glb/gltf, multi-object obj) is flattened into one mesh with each node's transform
    applied. Raises ``MeshError`` for a missing, unreadable or corrupt file, an unsupported format,
    or a file that holds no triangles (empty, or a point cloud). The content itself (NaN, empty,
    scale) is checked by ``validate_mesh``.
    """
    path = Path(path)
    if not path.exists():
        raise MeshError(f"mesh file not found: {path}")
    if not path.is_file():
        raise MeshError(f"not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise MeshError(
            f"unsupported mesh format '{suffix or path.name}' for {path}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        loaded = trimesh.load(str(path), process=False)
    except Exception as exc:  # trimesh raises many types for corrupt bytes; all mean "unreadable".
        raise MeshError(f"cannot read mesh file {path}: {exc} (corrupt or not a {suffix[1:]} file?)") from exc

    parts = loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]
    meshes = [g for g in parts if isinstance(g, trimesh.Trimesh)]
    if not meshes:
        if any(isinstance(g, trimesh.PointCloud) for g in parts):
            raise MeshError(f"{path} holds a point cloud, not a triangle mesh (no faces)")
        if parts:
            kinds = sorted({type(g).__name__ for g in parts})
            raise MeshError(f"{path} holds no triangle mesh (found: {', '.join(kinds)})")
        raise MeshError(f"{path} holds no mesh geometry (empty or corrupt file?)")

    vertices = np.concatenate([np.asarray(m.vertices, dtype=np.float64) for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    faces = np.concatenate([np.asarray(m.faces, dtype=np.int64) + o for m, o in zip(meshes, offsets)])
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if len(vertices) and np.isfinite(vertices).all():
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
    return mesh


def validate_mesh(mesh: trimesh.Trimesh, *, min_size: float = 0.01, max_size: float = 1.0) -> list[str]:
    """Check that a mesh is usable as a graspable object; return warnings, raise ``MeshError``.

    Errors: not a ``Trimesh``, no vertices, no faces, face indices out of range, NaN/inf
    coordinates, every face of zero area, or a largest bounding-box side outside
    ``[min_size, max_size]`` metres (the default 1 cm .. 1 m spans graspable objects; values outside
    usually mean a wrong unit). Warnings (the mesh is still used): not watertight (inside tests fall
    back to winding numbers), some zero-area faces.
    """
    if not isinstance(mesh, trimesh.Trimesh):
        raise MeshError(f"expected a triangle mesh, got {type(mesh).__name__}")
    vertices = np.asarray(mesh.vertices)
    faces = np.asarray(mesh.faces)
    if len(vertices) == 0:
        raise MeshError("mesh has no vertices")
    if len(faces) == 0:
        raise MeshError(f"mesh has {len(vertices)} vertices but no faces (a point cloud?)")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshError("mesh faces reference vertices that do not exist (corrupt file?)")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise MeshError(f"mesh has NaN or infinite coordinates ({int(bad.sum())} of {len(vertices)} vertices)")
    areas = np.asarray(mesh.area_faces)
    if not (areas > 0).any():
        raise MeshError(f"every face has zero area ({len(faces)} faces): degenerate mesh")

    size = float(np.ptp(vertices, axis=0).max())
    if size > max_size:
        raise MeshError(
            f"object is {size:.4g} m across (largest bounding-box side); expected {min_size:g}..{max_size:g} m. "
            f"Meshes must be in metres: is the file in millimetres (divide by 1000) or centimetres (divide by 100)?"
        )
    if size < min_size:
        raise MeshError(
            f"object is {size:.4g} m across (largest bounding-box side); expected {min_size:g}..{max_size:g} m. "
            f"Meshes must be in metres: is the object scaled down or the file in another unit?"
        )

    warnings = []
    if not mesh.is_watertight:
        warnings.append(
            "mesh is not watertight: inside tests use generalized winding numbers (slower, "
            "and 'inside' is ambiguous near holes)"
        )
    n_degenerate = int((areas <= 0).sum())
    if n_degenerate:
        warnings.append(f"{n_degenerate} of {len(faces)} faces have zero area")
    return warnings


def normalize_object(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, np.ndarray]:
    """Return ``(copy centred on its bounding-box centre, offset)`` with ``original = copy + offset``.

    Object-centric frame of OakInk: translate only (no rotation, no rescale), metres. The input
    mesh is not modified.
    """
    offset = np.asarray(mesh.bounds, dtype=np.float64).mean(axis=0)
    centred = mesh.copy()
    centred.apply_translation(-offset)
    return centred, offset

