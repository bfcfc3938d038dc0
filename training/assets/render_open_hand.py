"""Render the open hand (flat, fist, pinch; right in three views, mirrored left palm-on) for the README.

Run:  python -m training.assets.render_open_hand  ->  docs/images/open_hand.png
"""

import argparse
from pathlib import Path

from jhod_core.hand import load_hand_data, numpy_forward
from jhod_core.hand.poses import named_pose
from jhod_core.viz import look_rotation, render_sheet

SKIN = (0.87, 0.68, 0.58)
VIEWS = ((-80, 0, "palm"), (80, 0, "back"), (20, 200, "thumb side"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/open_hand.png"))
    args = parser.parse_args(argv)
    panels = []
    for side in ("right", "left"):
        data = load_hand_data(side=side)
        for pose in ("flat", "fist", "pinch"):
            verts, joints, _ = numpy_forward(data, hand_pose=named_pose(pose, data))
            centred = verts[0] - joints[0, 4]
            for elev, azim, label in VIEWS if side == "right" else VIEWS[:1]:
                panels.append(([(centred, data.closed_faces, SKIN)], look_rotation(elev, azim),
                               f"{side} {pose}, {label}"))
    print(render_sheet(panels, args.out, cols=3, cell=2.8,
                       title=f"Open hand: {data.num_vertices} vertices, MANO joints and parameters"))


if __name__ == "__main__":
    main()
