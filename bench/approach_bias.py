"""Do sampled hands come from every side? The mean direction from the object's centre to the hand, on a sphere.

    python bench/approach_bias.py [--weights DIR ...] [--num 64] [--seeds 0,1,2] [--upright 3]
                                  [--out docs/eval/approach_bias.md]

On a 4 cm sphere every side is as good as any other, so the unit vectors from the sphere's centre to the mean of each
sampled hand's vertices should average to about 0 (standard error about 1 / sqrt(3 N) per axis for N uniform
directions). Raw samples (no refinement, no choice) and the default (refined, best of 3), per model, seeds pooled;
for comparison, the same vector over the training data (hands of ``data/grasps`` and ``data/grasps_everyday``,
their objects' vertex means as centres, 600 random grasps each). Also the quartiles of the wrist's rotation angle
(|global_orient|) and the share past 150 degrees: uniform rotations give 101 / 133 / 157 degrees and 33 %; a model
that cannot cross axis-angle's seam at 180 degrees gives too few large angles. Then, per model, which way the palms
face on upright everyday test objects (a hand on a cap or an end faces up or down; people hold most of them from
the side).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # training, jhod_core from a checkout


def data_bias(grasps: str, objects: str, count: int = 600) -> tuple[np.ndarray, np.ndarray]:
    from jhod_core.geometry.mesh import load_mesh
    from training.data.grasps import load_grasps

    data = load_grasps(grasps)
    pick = np.random.default_rng(0).choice(len(data["object_id"]), min(count, len(data["object_id"])), replace=False)
    centres, out = {}, []
    for i in pick:
        oid = str(data["object_id"][i])
        if oid not in centres:
            centres[oid] = load_mesh(f"{objects}/meshes/{oid}.ply").vertices.mean(axis=0)
        d = data["keypoints"][i].mean(axis=0) - centres[oid]
        out.append(d / np.linalg.norm(d))
    return np.array(out), np.linalg.norm(data["global_orient"][pick], axis=1)


UPRIGHT_FAMILIES = ("can", "bottle_v2", "jar", "box_v2", "mug_v2", "fruit", "hammer", "kitchen_knife")


def upright_palms(weights_dirs, per_family: int, num: int = 8) -> list[str]:
    """Share of the default's grasps whose palm faces up or down (``steering.palm_directions`` within 46 degrees of
    the vertical, as in docs/data_engine.md; uniform: 30 %) on the first ``per_family`` test objects of upright
    everyday families (they stand along +z), ``num`` grasps each, seed 0. For the training data's shares see
    docs/data_engine.md."""
    from training.data.grasps import palms_up_or_down
    from jhod_core.sample import sample_grasps
    from training.data.corpus import load_manifest, load_object_mesh

    rows = load_manifest("data/objects_everyday")
    lines = ["", "## Palms on upright everyday objects", "",
             " ".join(upright_palms.__doc__.replace("``per_family``", str(per_family)).replace(
                 "``num``", str(num)).split()), "",
             "| weights | " + " | ".join(UPRIGHT_FAMILIES) + " | all |", "|---" * (len(UPRIGHT_FAMILIES) + 2) + "|"]
    for weights in weights_dirs:
        shares, everything = [], []
        for family in UPRIGHT_FAMILIES:
            ids = [r["id"] for r in rows if r["family"] == family and r["split"] == "test"][:per_family]
            vertical = []
            for oid in ids:
                result = sample_grasps(load_object_mesh("data/objects_everyday", oid), num, weights_dir=weights)
                vertical += list(palms_up_or_down(result["keypoints"]))
            shares.append(f"{np.mean(vertical):.0%}" if vertical else "-")
            everything += vertical
        lines.append(f"| `{weights}` | " + " | ".join(shares) + f" | {np.mean(everything):.0%} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", default=["jhod_core/assets/model"])
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--upright", type=int, default=3,
                        help="test objects per family of upright everyday objects for the palm table (0: none)")
    parser.add_argument("--out", type=Path, default=Path("docs/eval/approach_bias.md"))
    args = parser.parse_args(argv)
    import trimesh

    from jhod_core.pipeline import set_threads
    from jhod_core.sample import sample_grasps

    set_threads(1)
    start = time.perf_counter()
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for weights in args.weights:
        for refine in (False, True):
            dirs, angles = [], []
            for seed in seeds:
                result = sample_grasps(sphere, args.num, weights_dir=weights, refine=refine, seed=seed)
                d = result["vertices"].mean(axis=1)
                dirs.append(d / np.linalg.norm(d, axis=1, keepdims=True))
                angles.append(np.linalg.norm(result["global_orient"], axis=1))
            rows.append((weights, "default" if refine else "raw", np.concatenate(dirs), np.concatenate(angles)))
    for grasps, objects in (("data/grasps", "data/objects"), ("data/grasps_everyday", "data/objects_everyday")):
        rows.append((grasps, "training data", *data_bias(grasps, objects)))
    command = "python bench/approach_bias.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# Where sampled hands come from", "",
             f"`{command}` ({datetime.date.today()}, {time.perf_counter() - start:.0f} s). "
             + " ".join(__doc__.split("\n\n")[1].split()), "",
             "| source | samples | N | mean direction (x, y, z) | its length | s.e. per axis "
             "| wrist angle quartiles (deg) | past 150 deg |",
             "|---|---|---|---|---|---|---|---|"]
    for source, kind, dirs, angles in rows:
        mean = dirs.mean(axis=0)
        q = np.degrees(np.percentile(angles, [25, 50, 75]))
        lines.append(f"| `{source}` | {kind} | {len(dirs)} | {mean[0]:+.2f}, {mean[1]:+.2f}, {mean[2]:+.2f} | "
                     f"{np.linalg.norm(mean):.2f} | {1 / np.sqrt(3 * len(dirs)):.2f} | "
                     f"{q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f} | {np.mean(np.degrees(angles) > 150):.0%} |")
    if args.upright:
        lines += upright_palms(args.weights, args.upright)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
