"""Does the refiner see the overlaps that the intersection-volume metric counts? Hand vertices alone, or also the
object's samples inside the hand (``refine.object_depth_in_hands``)?

    python bench/object_in_hand.py docs/eval/model_v3/v8_everyday --objects data/objects_everyday \
        --out docs/eval/object_in_hand.md

Reads an evaluation run (``rows.jsonl`` with the exact metrics, ``hands.npz`` with the hands) and measures each
hand as the refiner does, against 8192 surface samples of its object: the deepest hand vertex in the object, and
the deepest object sample in the hand. Reports how well each ranks the exact intersection volume (Spearman), and
which grasps each flags at a few depths. Appends to ``--out`` (one section per run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jhod_core.geometry.mesh import load_mesh  # noqa: E402
from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.hand.params import split_params  # noqa: E402
from jhod_core.refine import ObjectSurface, object_depth_in_hands  # noqa: E402

FLAG_DEPTHS_CM = (0.2, 0.3, 0.5)
LARGE_VOLUME = 5.0  # cm3


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks = [np.argsort(np.argsort(x, kind="stable"), kind="stable") for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an evaluation folder (rows.jsonl, hands.npz)")
    p.add_argument("--objects", default="data/objects_everyday")
    p.add_argument("--method", default="jhod")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    rows = [json.loads(line) for line in open(args.run / "rows.jsonl")]
    rows = [r for r in rows if r["method"] == args.method]
    hands = np.load(args.run / "hands.npz", allow_pickle=False)
    data = load_hand_data()
    vertex_cm, in_hand_cm, volume, seconds = [], [], [], 0.0
    for object_id in dict.fromkeys(r["object_id"] for r in rows):
        mine = [r for r in rows if r["object_id"] == object_id]
        global_orient, hand_pose, transl = split_params(hands[f"{args.method}/{object_id}"])
        verts = numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)[0]
        surface = ObjectSurface.from_mesh(load_mesh(Path(args.objects) / "meshes" / f"{object_id}.ply"))
        start = time.perf_counter()
        in_hand = object_depth_in_hands(verts, data.closed_faces, surface)
        seconds += time.perf_counter() - start
        sd = surface.signed_distance(verts)[0]
        for r in mine:
            vertex_cm.append(max(0.0, -sd[r["grasp"]].min()) * 100)
            in_hand_cm.append(in_hand[r["grasp"]] * 100)
            volume.append(r["intersection_volume_cm3"])
    vertex_cm, in_hand_cm, volume = map(np.asarray, (vertex_cm, in_hand_cm, volume))
    both = np.maximum(vertex_cm, in_hand_cm)
    large = volume > LARGE_VOLUME
    lines = [f"## {args.run}", "",
             f"`python bench/object_in_hand.py {' '.join(sys.argv[1:])}`: {len(volume)} grasps; exact volume "
             f"median {np.median(volume):.2f} cm3, mean {volume.mean():.2f}; {int(large.sum())} above "
             f"{LARGE_VOLUME:g} cm3. Object depth in hand: {1000 * seconds / len(volume):.1f} ms per hand.", "",
             "| measure | Spearman with volume | " + " | ".join(
                 f"flagged > {d:g} cm: grasps / mean volume / unflagged mean volume / volumes > {LARGE_VOLUME:g} "
                 "caught" for d in FLAG_DEPTHS_CM) + " |",
             "|---|---|" + "---|" * len(FLAG_DEPTHS_CM)]
    for name, depth in (("deepest hand vertex", vertex_cm), ("deepest object sample in hand", in_hand_cm),
                        ("the deeper of both", both)):
        cells = []
        for d in FLAG_DEPTHS_CM:
            flag = depth > d
            cells.append(f"{int(flag.sum())} / {volume[flag].mean() if flag.any() else 0:.1f} / "
                         f"{volume[~flag].mean() if (~flag).any() else 0:.2f} / {int((flag & large).sum())} of "
                         f"{int(large.sum())}")
        lines.append(f"| {name} | {spearman(depth, volume):.2f} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        previous = args.out.read_text() if args.out.exists() else "# Overlaps the refiner sees\n\n" + \
            __doc__.split("\n\n")[0] + "\n\n"
        args.out.write_text(previous + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
