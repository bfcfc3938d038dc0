"""The data engine on bulky objects (cans, jars, balls, boxes): which energy makes its grasps hold.

    python bench/bulky_objects.py [--per-family 4] [--families ball,can,jar,box_v2] [--mode bootstrap]
        [--arm NAME:KEY=VALUE,...]... [--out FILE] [--picture PNG]

The first ``--per-family`` validation objects of each family in ``data/objects_everyday`` that a hand can span
(``optimizer.surround_centre``); the data engine's worker from scratch (one batch of 16 candidates, 200 steps, every
candidate checked) once per arm, with the same seeds. An arm sets numeric ``SynthesisConfig`` fields
(``w_surround=0``); the defaults run first unless ``--no-default``. ``--mode bootstrap``: the shipped model's 16
proposals per object, polished (the data engine's bootstrapped mode), instead of hands optimised from scratch.
Reported: accepted / checked per family, the rejection reasons, process CPU time.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
import time
from collections import Counter
from pathlib import Path

from jhod_core.geometry.mesh import load_mesh
from jhod_core.geometry.sampling import sample_surface
from training.data.corpus import load_manifest
from training.synthesize import optimizer
from training.synthesize.sdf_grid import SDFGrid
from training.synthesize.worker import synthesize_objects

CORPUS = Path("data/objects_everyday")
FIELDS = {f.name for f in dataclasses.fields(optimizer.SynthesisConfig)}


def bulky_objects(families: list[str], per_family: int, split: str = "val") -> list[tuple[str, str, str]]:
    """(family, id, mesh path) of the first ``per_family`` bulky objects of each family in ``split``."""
    chosen, manifest = [], load_manifest(CORPUS)
    for family in families:
        count = 0
        for r in (r for r in manifest if r["split"] == split and r["family"] == family):
            path = str(CORPUS / "meshes" / f"{r['id']}.ply")
            mesh = load_mesh(path)
            surface, _, _ = sample_surface(mesh, 2048, seed=0)
            if optimizer.surround_centre(surface, SDFGrid(mesh, resolution=32)) is not None:
                chosen.append((family, r["id"], path))
                count += 1
            if count == per_family:
                break
    return chosen


def parse_arm(parser, text: str) -> tuple[str, dict]:
    """``NAME:KEY=VALUE,...`` -> (name, SynthesisConfig overrides); a bad key stops with one sentence."""
    name, _, spec = text.partition(":")
    config = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if key not in FIELDS or key in ("batch", "steps", "type_probabilities"):
            parser.error(f"arm {name!r}: {key!r} is not a numeric SynthesisConfig field")
        config[key] = float(value)
    return name, config


def run_arm(chosen, config: dict, mode: str = "scratch") -> dict:
    accepted, checked, reasons, t = Counter(), Counter(), Counter(), time.process_time()
    records = []
    for fam, oid, path in chosen:
        shard = synthesize_objects({"objects": [(oid, path)], "seed": 0, "per_object": 16, "rounds": 1, "batch": 16,
                                    "steps": 200, "config": config, "mode": mode,
                                    "vhacd_cache": "data/grasps_everyday/vhacd_cache"})
        records += shard["records"]
        for s in shard["stats"]:
            accepted[fam] += s["accepted"]
            checked[fam] += s["accepted"] + sum(s["rejected"].values())
            reasons.update(s["rejected"])
        print(oid, accepted[fam], checked[fam], file=sys.stderr, flush=True)
    return {"accepted": accepted, "checked": checked, "reasons": reasons, "cpu": time.process_time() - t,
            "records": records}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=4)
    parser.add_argument("--families", default="ball,can,jar,box_v2")
    parser.add_argument("--arm", action="append", default=[])
    parser.add_argument("--mode", choices=("scratch", "bootstrap"), default="scratch",
                        help="bootstrap: polish the shipped model's 16 proposals per object instead")
    parser.add_argument("--no-default", action="store_true", help="only the arms given (no default arm first)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None,
                        help="PNG: accepted grasps of each arm on the first objects, to look at")
    args = parser.parse_args(argv)
    arms = [parse_arm(parser, a) for a in (args.arm if args.no_default else ["default:", *args.arm])]
    import torch

    torch.set_num_threads(1)
    chosen = bulky_objects(args.families.split(","), args.per_family)
    results = {}
    for name, config in arms:
        print("arm", name, config, file=sys.stderr, flush=True)
        results[name] = run_arm(chosen, config, args.mode)
    families = sorted({fam for fam, _, _ in chosen})
    command = ("python bench/bulky_objects.py " + f"--per-family {args.per_family} --families {args.families} "
               + ("--mode bootstrap " if args.mode == "bootstrap" else "") + " ".join(f"--arm {a}" for a in args.arm))
    lines = ["# The data engine on bulky objects", "",
             f"`{command.strip()}` on {datetime.date.today()}. " + " ".join(__doc__.split("\n\n")[2].split()), "",
             "| arm | " + " | ".join(families) + " | all | CPU min | rejections |",
             "|---|" + "---|" * (len(families) + 3)]
    for name, r in results.items():
        acc, chk = r["accepted"], r["checked"]
        cells = [f"{acc[f]}/{chk[f]} ({acc[f] / max(1, chk[f]):.0%})" for f in families]
        total = sum(acc.values()), sum(chk.values())
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total[0]}/{total[1]} "
                     f"({total[0] / max(1, total[1]):.0%}) | {r['cpu'] / 60:.1f} | " +
                     ", ".join(f"{k} {v}" for k, v in r["reasons"].most_common()) + " |")
    lines += ["", "Arms: " + "; ".join(f"{n}: {c or 'defaults'}" for n, c in arms) + ".",
              "", "Objects: " + ", ".join(oid for _, oid, _ in chosen) + "."]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    if args.picture:
        picture(results, dict((oid, path) for _, oid, path in chosen), args.picture)
    print(text)
    return 0


def picture(results: dict, paths: dict, out: Path, per_arm: int = 6) -> None:
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.viz import look_rotation, render_sheet

    data = load_hand_data()
    panels = []
    for name, r in results.items():
        for rec in r["records"][:: max(1, len(r["records"]) // per_arm)][:per_arm]:
            mesh = load_mesh(paths[rec["object_id"]])
            vertices = numpy_forward(data, rec["global_orient"], rec["hand_pose"], rec["transl"])[0][0]
            panels.append(([(mesh.vertices, mesh.faces, (0.55, 0.65, 0.85)),
                            (vertices, data.closed_faces, (0.87, 0.68, 0.58))], look_rotation(20, 30),
                           f"{name}: {rec['object_id']} {rec['sim_displacement_6dir_cm']:.1f} cm"))
    render_sheet(panels, out, cols=per_arm, cell=2.6, title="accepted grasps per arm")


if __name__ == "__main__":
    sys.exit(main())
