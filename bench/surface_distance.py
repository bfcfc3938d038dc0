"""How well the refiner's point-based signed distance matches the mesh's exact one, near validation objects.

    python bench/surface_distance.py [--objects 10] [--points 20000] [--out docs/eval/refine_distance_accuracy.md]

Objects: ``--objects`` validation objects of each corpus (the eval's seeded pick), 8192 surface samples each, as the
pipeline samples them. Query points: surface samples moved by a normal offset of 1 cm standard deviation (where
hands are). Truth: ``geometry.inside.signed_distance`` on the mesh. Distances: ``plane``: (x - p) . n to the
nearest sample p (the refiner's until 2026-12-06); ``shipped``: ``refine.ObjectSurface.signed_distance`` (the plane
distance, positive beyond apexes and rims); ``disc``: the distance to the nearest sample's disc everywhere. Columns
(means over objects): points called inside by over 2 mm that are outside by over 2 mm (and the reverse); of the
points called within 2 mm of the surface, the share over 4 mm away (false contact); 99th-percentile absolute error;
95th percentile within 5 mm of the surface.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def disc_distance(surface, x):
    """(distance to the nearest sample's disc (radius ``surface.radius``), negative under it; that sample's normal)
    of points x (..., 3), as ``ObjectSurface.signed_distance`` returns them."""
    flat = x.reshape(-1, 3)
    dist, idx = surface.nearest(flat)
    near = np.isfinite(dist)
    out, normal = np.full(len(flat), np.inf), np.zeros_like(flat)
    normal[near] = surface.normals[idx[near]]
    along = np.einsum("ni,ni->n", flat[near] - surface.points[idx[near]], normal[near])
    beside = np.maximum(np.sqrt(np.maximum(dist[near] ** 2 - along ** 2, 0.0)) - surface.radius, 0.0)
    out[near] = np.where((along < 0) & (beside <= -along), -1.0, 1.0) * np.sqrt(along ** 2 + beside ** 2)
    return out.reshape(x.shape[:-1]), normal.reshape(x.shape)


def plane_surface(surface):
    """The same surface measured by the plane distance (x - p) . n everywhere: discs without an edge."""
    plane = copy.copy(surface)
    plane.radius = np.inf
    return plane


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10, help="validation objects per corpus")
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from jhod_core.geometry.inside import signed_distance
    from jhod_core.geometry.sampling import sample_surface
    from jhod_core.refine import SURFACE_POINTS, ObjectSurface
    from training.data.corpus import load_object_mesh
    from training.eval.methods import pick_objects

    methods = {"plane": lambda s, x: plane_surface(s).signed_distance(x)[0],
               "shipped": lambda s, x: s.signed_distance(x)[0], "disc": lambda s, x: disc_distance(s, x)[0]}
    rows = {name: [] for name in methods}
    for root in ("data/objects_everyday", "data/objects"):
        for oid, _ in pick_objects(str(ROOT / root), ["val"], args.objects, 1):
            mesh = load_object_mesh(ROOT / root, oid)
            points, normals, _ = sample_surface(mesh, SURFACE_POINTS, seed=0)
            surface = ObjectSurface(points, normals)
            rng = np.random.default_rng(0)
            x = points[rng.integers(len(points), size=args.points)] + rng.normal(size=(args.points, 3)) * 0.01
            truth = signed_distance(mesh, x)
            for name, method in methods.items():
                ours = method(surface, x)
                ok = np.isfinite(ours)
                a, t = ours[ok], truth[ok]
                said_near = np.abs(a) < 0.002
                rows[name].append([((a < -0.002) & (t > 0.002)).mean() * 100, ((a > 0.002) & (t < -0.002)).mean() * 100,
                                   (said_near & (np.abs(t) > 0.004)).sum() / max(said_near.sum(), 1) * 100,
                                   np.percentile(np.abs(a - t), 99) * 1000,
                                   np.percentile(np.abs(a - t)[np.abs(t) < 0.005], 95) * 1000])
            print(oid, {name: np.round(r[-1], 2).tolist() for name, r in rows.items()}, flush=True)
    lines = ["# The refiner's signed distance against the mesh's", "",
             f"`python bench/surface_distance.py --objects {args.objects} --points {args.points}` "
             f"({datetime.date.today()}). " + " ".join(__doc__.split("\n\n")[1].split()), "",
             f"{len(rows['plane'])} objects x {args.points} points.", "",
             "| distance | false inside (%) | false outside (%) | false contact (%), worst object "
             "| 99th pct error (mm) | 95th pct error within 5 mm (mm) |", "|---|---|---|---|---|---|"]
    for name, values in rows.items():
        v = np.array(values)
        lines.append(f"| {name} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} | {v[:, 2].mean():.2f}, "
                     f"{v[:, 2].max():.1f} | {v[:, 3].mean():.2f} | {v[:, 4].mean():.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
