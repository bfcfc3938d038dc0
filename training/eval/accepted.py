"""Add the data engine's acceptance (``accepted``) to the rows of an evaluation run made before it was measured.

    python -m training.eval.accepted docs/eval/model_v3/v8_everyday --objects data/objects_everyday

Evaluations now store ``accepted`` per grasp (``training.synthesize.accept.accepted``: joint limits, penetration
<= 0.5 cm, three digits or a thumb-index pinch touching, six-direction simulation <= 2 cm, volume <= 3 cm3). For
older runs the digits that touch are measured again on the stored hands (``hands.npz``, exact signed distances to
the object's mesh) and the rest is read from the rows; ``rows.jsonl`` is rewritten with the field added (rows that
have it stay as they are), so that ``training.eval.uncertainty --paired-with`` can pair it. Runs without the
simulation get None.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="an evaluation folder (rows.jsonl, hands.npz)")
    p.add_argument("--objects", required=True, help="the corpus the run measured (meshes/<id>.ply)")
    args = p.parse_args(argv)
    from jhod_core import metrics
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.params import split_params
    from jhod_core.hand.regions import finger_vertex_ids
    from training.synthesize.accept import accepted

    rows = [json.loads(line) for line in open(args.run / "rows.jsonl")]
    hands = np.load(args.run / "hands.npz", allow_pickle=False)
    data = load_hand_data()
    fingers = finger_vertex_ids(data)
    posed = {}
    for row in rows:
        if "accepted" in row:
            continue
        if row.get("sim_displacement_6dir_cm") is None:
            row["accepted"] = None
            continue
        key = f"{row['method']}/{row['object_id']}"
        if key not in posed:
            global_orient, hand_pose, transl = split_params(hands[key])
            posed[key] = (numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)[0],
                          load_mesh(Path(args.objects) / "meshes" / f"{row['object_id']}.ply"))
        vertices, mesh = posed[key]
        row["accepted"] = accepted(row, metrics.fingers_in_contact(mesh, vertices[row["grasp"]], fingers))
    (args.run / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{args.run}: accepted added for {len(posed)} objects", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
