"""Which stage of sampling moves hands off the part people hold: raw samples, refined, refined and chosen.

    python bench/hold_part_stages.py [--weights DIR] [--splits test] [--objects 16] [--num 8]
        [--critic NAME=CRITIC_NPZ ...] [--out docs/eval/hold_part_stages.md]

The first ``--objects`` objects per split of ``data/objects_everyday`` with a part to prefer (``training.eval
--with-hold-part``'s pick, seed 0); ``--num`` grasps each, seed 0, three ways through ``sample_grasps``: raw
(``refine=False``), refined without a choice (``candidates=1``) and the default (refined, the best of the default
candidates kept: by the model's critic where it has one); and chosen by each ``--critic`` in its place. Per family:
share of grasps whose contact centroid lies on the part to prefer (``accept.contact_on_hold_part``). No simulation:
where the hands are, not whether they hold.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jhod_core.hand import load_hand_data, numpy_forward  # noqa: E402
from jhod_core.critic import FILE as CRITIC_FILE  # noqa: E402
from jhod_core.pipeline import CANDIDATES, DEFAULT_WEIGHTS_DIR  # noqa: E402
from jhod_core.sample import sample_grasps  # noqa: E402
from training.data.corpus import everyday_family, load_object_mesh  # noqa: E402
from training.eval.methods import pick_objects  # noqa: E402
from training.synthesize.accept import contact_on_hold_part, object_part_to_prefer  # noqa: E402

CORPUS = "data/objects_everyday"
STAGES = {"raw": {"refine": False}, "refined, no choice": {"candidates": 1}, "refined and chosen (default)": {}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--splits", default="test", help="comma-separated splits of the corpus")
    p.add_argument("--objects", type=int, default=16, help="objects per split")
    p.add_argument("--num", type=int, default=8)
    p.add_argument("--critic", nargs="*", default=[], metavar="NAME=CRITIC_NPZ",
                   help="other critics to choose by in the model's place, each a stage of its own")
    p.add_argument("--out", default="docs/eval/hold_part_stages.md")
    args = p.parse_args(argv)
    stages = {name: {"weights_dir": folder} for name, folder in _critic_folders(p, args)}
    stages = {**{k: {"weights_dir": args.weights, **v} for k, v in STAGES.items()}, **stages}
    start = time.perf_counter()
    data = load_hand_data()
    held = collections.defaultdict(list)
    objects = []
    for split in args.splits.split(","):
        objects += pick_objects(CORPUS, [split], args.objects, 0, with_hold_part=True)
    for k, (oid, split) in enumerate(objects):
        print(f"[{k + 1}/{len(objects)}] {oid}", flush=True)
        mesh = load_object_mesh(CORPUS, oid)
        hold = object_part_to_prefer(CORPUS, oid)
        family = everyday_family(oid)
        for stage, options in stages.items():
            g = sample_grasps(mesh, args.num, seed=0, **options)
            verts, _, _ = numpy_forward(data, g["global_orient"], g["hand_pose"], g["transl"])
            on = [contact_on_hold_part(mesh, v.astype(np.float64), hold) for v in verts]
            held[(stage, f"{split}: {family}")] += on
            held[(stage, f"**{split}: all**")] += on
    rows = sorted({f for _, f in held if not f.startswith("**")}) + [f"**{s}: all**" for s in args.splits.split(",")]
    command = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    lines = ["# Which stage moves hands off the part people hold", "",
             f"`python bench/hold_part_stages.py {command}` ({time.strftime('%Y-%m-%d')}, "
             f"{time.perf_counter() - start:.0f} s; default candidates: {CANDIDATES}).", "",
             __doc__.split("\n\n")[1].replace("\n", " "), "",
             "| split: family | grasps | " + " | ".join(stages) + " |", "|---|---|" + "---|" * len(stages)]
    for f in rows:
        n = len(held[("raw", f)])
        lines.append(f"| {f} | {n} | " + " | ".join(f"{np.mean(held[(s, f)]):.0%}" for s in stages) + " |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _critic_folders(parser, args):
    """(stage name, weights folder) per ``--critic NAME=CRITIC_NPZ``: the model's files linked into a temporary
    folder beside that critic, which the pipeline then chooses by."""
    import tempfile

    model = Path(args.weights) if args.weights else DEFAULT_WEIGHTS_DIR
    for item in args.critic:
        name, _, path = item.partition("=")
        if not name or not Path(path).is_file():
            parser.error(f"--critic takes NAME=CRITIC_NPZ with an existing file, got {item!r}")
        folder = Path(tempfile.mkdtemp(prefix="hold_part_stages_"))
        for f in model.iterdir():
            if f.name != CRITIC_FILE:
                (folder / f.name).symlink_to(f.resolve())
        (folder / CRITIC_FILE).symlink_to(Path(path).resolve())
        yield f"chosen by {name}", str(folder)


if __name__ == "__main__":
    raise SystemExit(main())
