"""What the refinement's push-out and tidy steps, and guidance on the object, do to penetration and holding, paired
by object.

    python bench/refinement.py [--objects 12] [--num 8] [--out docs/eval/refine_tidy.md] [--picture PNG]

Objects: ``--objects`` validation objects of each corpus (``data/objects_everyday``, ``data/objects``; the eval's
seeded pick). Per object, ``num`` grasps of the shipped model with the pipeline's defaults (candidates, critic,
seed 0), once per variant of the refinement; the same samples go in, so differences are the refinement's.
Measured on the object's mesh: penetration (deepest hand vertex, cm) and the six-direction simulation (mean and
-y, cm). Differences to the first variant are means over objects +- their standard error. Straight fingers beside
the grasp: fingers (not thumbs) 1 cm or more from the object with under 20 degrees of mean flexion, over all grasps.

Variants: ``before``: push-out on all measured vertices, 4 moves, no tidy (the refiner until December 2026);
``palm``: push-out on the palm only, ``PUSH_ITERATIONS`` moves; ``palm+tidy D``: then every vertex lifted to
``D`` mm after the choice (``GraspRefiner.tidy``). The signed distance is ``ObjectSurface.signed_distance``'s,
except in ``plane`` variants: the plane distance (x - p) . n everywhere (until 2026-12-06), and in ``disc`` ones:
the distance to the nearest sample's disc everywhere (``bench/surface_distance.py``). ``object guidance W``: the
shipped refinement, sampled with ``pipeline.OBJECT_GUIDANCE`` = W (guidance on the object, two network calls per step).
``far fingers closest``: a finger that cannot touch takes the offset closest to the object however far that is (until
2026-12-07) instead of curling towards ``refine.RELAXED_FLEXION`` beyond ``refine.CURL_GAP`` (``far fingers curl``,
the shipped refinement).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


@contextlib.contextmanager
def variant(push: str, tidy_mm: float | None, distance: str | None = None, object_guidance: float = 1.0,
            curl_gap: float | None = None):
    """The refiner's push-out (``"all4"`` or ``"palm"``), tidy depth (None: no tidy), signed distance (None: the
    shipped one, ``"plane"`` or ``"disc"``), the sampler's guidance on the object and the gap beyond which a finger
    that cannot touch curls (None: ``refine.CURL_GAP``; inf: never, it takes the closest offset) for the duration."""
    from jhod_core import pipeline, refine
    from jhod_core.refine import GraspRefiner, ObjectSurface

    from surface_distance import disc_distance

    push_out, tidy, signed, post_init = (GraspRefiner.push_out, GraspRefiner.tidy, ObjectSurface.signed_distance,
                                         ObjectSurface.__post_init__)

    def plane(self):
        post_init(self)
        self.radius = np.inf  # discs without an edge: (x - p) . n everywhere

    def disc(self, x, reach=None):
        return disc_distance(self, x)

    def old_push(self, params, surface, margin=None, iterations=None, vertex_ids=None):
        return push_out(self, params, surface, iterations=4, vertex_ids=self.vertex_ids)

    def tidy_to(self, params, surface, depth=None):
        return np.asarray(params, dtype=np.float64) if tidy_mm is None else tidy(self, params, surface, tidy_mm / 1000)

    if push == "all4":
        GraspRefiner.push_out = old_push
    GraspRefiner.tidy = tidy_to
    if distance == "plane":
        ObjectSurface.__post_init__ = plane
    elif distance == "disc":
        ObjectSurface.signed_distance = disc
    pipeline.OBJECT_GUIDANCE, guided = object_guidance, pipeline.OBJECT_GUIDANCE
    shipped_gap = refine.CURL_GAP
    if curl_gap is not None:
        refine.CURL_GAP = curl_gap
    try:
        yield
    finally:
        pipeline.OBJECT_GUIDANCE, refine.CURL_GAP = guided, shipped_gap
        GraspRefiner.push_out, GraspRefiner.tidy = push_out, tidy
        ObjectSurface.signed_distance, ObjectSurface.__post_init__ = signed, post_init


def straight_fingers(refiner, fingers: dict, mesh, hand_pose: np.ndarray, vertices: np.ndarray) -> int:
    """Fingers (not thumbs) at least 1 cm from the object whose three joints average under 20 degrees of flexion:
    the fingers that read as pointing beside a grasp."""
    import trimesh

    from jhod_core.refine import FINGER_JOINTS

    angles = refiner._angles(np.asarray(hand_pose))
    count = 0
    for finger, joints in FINGER_JOINTS.items():
        if finger == "thumb":
            continue
        flexion = np.rad2deg(angles[:, np.asarray(joints) - 1, 2].mean(axis=1))
        gaps = [np.abs(trimesh.proximity.signed_distance(mesh, v[fingers[finger][::6]])).min() for v in vertices]
        count += int(np.sum((np.asarray(gaps) >= 0.01) & (flexion < 20)))
    return count


def picture(objects, specs, names, num: int, out: Path, count: int = 6) -> None:
    """The ``count`` grasps (one candidate each, seed 0) that two variants change most, side by side."""
    from jhod_core.hand import load_hand_data
    from jhod_core.sample import sample_grasps
    from jhod_core.viz import look_rotation, render_sheet
    from training.data.corpus import load_object_mesh

    faces = load_hand_data().closed_faces
    changed = []
    for root, oid in objects:
        mesh = load_object_mesh(ROOT / root, oid)
        hands = []
        for spec in specs:
            with variant(*spec):
                hands.append(sample_grasps(mesh, num, seed=0, candidates=1)["vertices"])
        moved = np.abs(hands[1] - hands[0]).max(axis=(1, 2))
        changed += [(moved[i], oid, i, mesh, hands[0][i], hands[1][i]) for i in np.flatnonzero(moved > 0.005)]
    panels = []
    for _, oid, i, mesh, a, b in sorted(changed, key=lambda c: -c[0])[:count]:
        side = a.mean(0) - mesh.bounds.mean(0)
        rotation = look_rotation(20, np.rad2deg(np.arctan2(side[0], side[2])) + 30)  # from the hand's side
        for name, hand in zip(names, (a, b)):
            panels.append(([(mesh.vertices, mesh.faces, (0.55, 0.65, 0.85)), (hand, faces, (0.87, 0.68, 0.58))],
                           rotation, f"{oid} #{i}: {name}"))
    render_sheet(panels, out, cols=4, cell=3.0, title=f"{names[0]} (left) and {names[1]} (right), one candidate")


VARIANTS = {"before": ("all4", None), "palm": ("palm", None), "palm+tidy 2 mm": ("palm", 2.0),
            "palm+tidy 3 mm": ("palm", 3.0), "palm+tidy 3 mm, plane": ("palm", 3.0, "plane"),
            "palm+tidy 3 mm, disc": ("palm", 3.0, "disc"),
            **{f"object guidance {w:g}": ("palm", 3.0, None, w) for w in (1.0, 1.5, 2.0, 3.0)},
            "far fingers curl": ("palm", 3.0), "far fingers closest": ("palm", 3.0, None, 1.0, np.inf)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12, help="validation objects per corpus")
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS)[:4],
                        help="the first is the reference of the differences")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None,
                        help="also draw the grasps the first and last variants change most (one candidate each)")
    args = parser.parse_args(argv)

    import trimesh

    from jhod_core import metrics
    from jhod_core.hand import load_hand_data
    from jhod_core.pipeline import set_threads
    from jhod_core.hand.regions import finger_vertex_ids
    from jhod_core.refine import PUSH_ITERATIONS, TIDY_DEPTH, GraspRefiner
    from jhod_core.sample import sample_grasps
    from training.data.corpus import load_object_mesh
    from training.eval.methods import pick_objects

    set_threads(1)
    hand_data = load_hand_data()
    faces = np.asarray(hand_data.closed_faces)
    refiner, fingers = GraspRefiner(hand_data), finger_vertex_ids(hand_data)
    objects = [(root, oid) for root in ("data/objects_everyday", "data/objects")
               for oid, _ in pick_objects(str(ROOT / root), ["val"], args.objects, 1)]
    cache = ROOT / "data" / "critic" / "val" / "vhacd_cache"
    start = time.perf_counter()
    variants = {name: VARIANTS[name] for name in args.variants}
    per_object = {name: [] for name in variants}  # (pen, 6-dir, -y, touching) means per object
    seconds = dict.fromkeys(variants, 0.0)  # sampling + refinement wall time
    for i, (root, oid) in enumerate(objects):
        mesh = load_object_mesh(ROOT / root, oid)
        for name, spec in variants.items():
            with variant(*spec):
                t = time.perf_counter()
                grasps = sample_grasps(mesh, args.num, seed=0)
                hands = grasps["vertices"]
                seconds[name] += time.perf_counter() - t
            rows = []
            for v in hands:
                sim = metrics.simulation_displacements(mesh, trimesh.Trimesh(v, faces, process=False), cache=cache)
                rows.append((metrics.penetration_depth(mesh, v), sim.mean(), sim[2], metrics.contact(mesh, v)))
            straight = straight_fingers(refiner, fingers, mesh, grasps["hand_pose"], hands)
            per_object[name].append(np.append(np.mean(rows, axis=0), straight))
        print(f"{i + 1}/{len(objects)} {oid} ({time.perf_counter() - start:.0f} s)", flush=True)
    base = np.array(per_object[args.variants[0]])
    title = ("Guidance on the object" if all("guidance" in v for v in args.variants)
             else "Fingers out of reach" if all("far fingers" in v for v in args.variants)
             else "Refinement: palm push-out and tidy")
    lines = [f"# {title}", "",
             f"`python bench/refinement.py --objects {args.objects} --num {args.num}"
             f"{'' if args.variants == list(VARIANTS)[:4] else ' --variants ' + ' '.join(map(repr, args.variants))}` "
             f"({datetime.date.today()}, "
             f"{time.perf_counter() - start:.0f} s). " + " ".join(__doc__.split("\n\n")[1].split()), "",
             " ".join(__doc__.split("\n\n")[2].split()) + f" Now: PUSH_ITERATIONS = {PUSH_ITERATIONS}, TIDY_DEPTH = "
             f"{TIDY_DEPTH * 1000:g} mm.", "",
             f"{len(objects)} objects x {args.num} grasps.", "",
             f"| variant | penetration (cm) | vs {args.variants[0]} | 6-dir (cm) | vs {args.variants[0]} | -y (cm) | "
             f"vs {args.variants[0]} | contact ratio | straight fingers beside the grasp | sampling (s per object) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, values in per_object.items():
        values = np.array(values)
        diff = values - base
        sem = diff.std(axis=0, ddof=1) / np.sqrt(len(diff))
        cells = [f"{values[:, k].mean():.3f} | {diff[:, k].mean():+.3f} +- {sem[k]:.3f}" for k in range(3)]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {values[:, 3].mean():.3f} | {int(values[:, 4].sum())} | "
                     f"{seconds[name] / len(objects):.2f} |")
    if args.picture:
        picture(objects[:args.objects], [VARIANTS[args.variants[0]], VARIANTS[args.variants[-1]]],
                [args.variants[0], args.variants[-1]], args.num, args.picture)
        lines += ["", f"![the grasps changed most]({args.picture.name})"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
