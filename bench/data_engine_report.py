"""Measure the synthesized grasp datasets and write docs/data_engine.md plus picture sheets.

    python bench/data_engine_report.py [--dataset data/grasps:data/objects data/grasps_everyday:data/objects_everyday]

Each dataset is a grasp folder (shards) and the object corpus it was synthesized on. The report gives size against
the targets, throughput, acceptance by family and by object size, where grasps hold objects with labelled parts,
quality, diversity, which way the palms face on upright everyday objects, and a random picture sheet per
dataset (seeded, not picked).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

from jhod_core.hand import HandModel
from jhod_core.metrics import diversity
from jhod_core.viz import look_rotation, render_sheet
from training.data.corpus import load_manifest, load_object_mesh
from training.data.grasps import DIGITS, SOURCES, UPRIGHT_SOURCE, VERTICAL, load_grasps, palms_up_or_down
from training.synthesize.accept import object_part_to_prefer

ROOT = Path(__file__).resolve().parents[1]
TARGET_GRASPS, TARGET_OBJECTS, PER_OBJECT, TARGET_SHAPES = 20000, 2000, 8, 5000
SIZES = (("< 10 cm", 0.0, 0.10), ("10-15 cm", 0.10, 0.15), (">= 15 cm", 0.15, 9.0))


def stats_table(values: np.ndarray, unit: str) -> str:
    p = np.percentile(values, [50, 90, 99])
    return f"{values.mean():.2f} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} | {values.max():.2f} | {unit}"


def longest_side(row: dict) -> float:
    return max(float(row[f"extent_{a}"]) for a in "xyz")


def size_class(row: dict) -> str:
    side = longest_side(row)
    return next(name for name, lo, hi in SIZES if lo <= side < hi)


def merge_passes(stats: list[dict]) -> list[dict]:
    """One row per object: a top-up pass (``--top-up``) adds a second row, whose counts and times add up."""
    def add(a, b):
        if isinstance(a, dict) or isinstance(b, dict):  # a pass may lack a dict the other has (0 stands for it)
            a, b = a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {}
            return {k: add(a.get(k, 0), b.get(k, 0)) for k in {**a, **b}}
        return a + b if isinstance(a, (int, float)) and not isinstance(a, bool) else a

    merged: dict[str, dict] = {}
    for s in stats:
        merged[s["object_id"]] = add(merged[s["object_id"]], s) if s["object_id"] in merged else s
    return list(merged.values())


class Dataset:
    """One grasp folder, its corpus manifest, and per-object statistics."""

    def __init__(self, grasps: Path, objects: Path):
        self.grasps_dir, self.objects_dir = grasps, objects
        self.g = load_grasps(grasps)
        self.manifest = {row["id"]: row for row in load_manifest(objects)}
        history = json.loads((grasps / "synthesis_config.json").read_text())
        self.history = history if isinstance(history, list) else [history]
        self.stats = merge_passes(self.g["stats"])
        self.train_total = sum(r["split"] == "train" for r in self.manifest.values())
        # object id -> its part to prefer ((F,) bool), for objects that have one
        parts = {oid: object_part_to_prefer(objects, oid) for oid in set(map(str, self.g["object_id"]))}
        self.hold_faces = {oid: faces for oid, faces in parts.items() if faces is not None}

    def checked(self, s: dict) -> int:
        return s["accepted"] + sum(s["rejected"].values())

    def cpu(self, s: dict) -> float:
        return s.get("cpu_seconds", s["seconds"])


def table_by(datasets, key, title, keys_order=None) -> list[str]:
    """Acceptance grouped by ``key(row) -> group``: objects processed, full objects, grasps, acceptance, hold."""
    groups = defaultdict(lambda: Counter())
    for d in datasets:
        by_object = Counter(str(o) for o in d.g["object_id"])
        hold = defaultdict(list)
        for oid, h in zip(d.g["object_id"], d.g["on_hold_part"]):
            if h >= 0 and str(oid) in d.hold_faces:
                hold[str(oid)].append(int(h))
        for s in d.stats:
            row = d.manifest.get(s["object_id"])
            if row is None:
                continue
            c = groups[key(row)]
            c["objects"] += 1
            c["full"] += s["accepted"] >= PER_OBJECT
            c["grasps"] += by_object[s["object_id"]]
            c["checked"] += d.checked(s)
            c["hold"] += sum(hold[s["object_id"]])
            c["labelled"] += len(hold[s["object_id"]])
            c["cpu"] += d.cpu(s)
    lines = [f"### {title}", "", "| group | objects processed | with 8+ grasps | grasps | accepted / checked "
             "| accepted per CPU-min | on the part to prefer (objects with one) |", "|---|---|---|---|---|---|---|"]
    for name in keys_order or sorted(groups):
        if name not in groups:
            continue
        c = groups[name]
        hold = f"{c['hold'] / c['labelled']:.0%} of {c['labelled']}" if c["labelled"] else "-"
        share = c["grasps"] / max(1, c["checked"])
        lines.append(f"| {name} | {c['objects']} | {c['full']} | {c['grasps']} | {share:.0%} "
                     f"| {c['grasps'] / max(1e-9, c['cpu'] / 60):.1f} | {hold} |")
    return lines + [""]


def palm_faces_up_or_down(datasets) -> list[str]:
    """Per family of upright everyday objects and per source: the share of hands with ``palms_up_or_down``. People
    hold a can, a bottle or a tool's upright handle mostly from the side, palm facing sideways."""
    rows = defaultdict(list)
    for d in datasets:
        vertical = palms_up_or_down(d.g["keypoints"])
        for i, oid in enumerate(d.g["object_id"]):
            row = d.manifest[str(oid)]
            if row["source"].startswith(UPRIGHT_SOURCE):
                rows[(row["family"], str(d.g["source"][i]))].append(bool(vertical[i]))
    if not rows:
        return []
    lines = ["## Which way the palms face", "",
             "Everyday objects stand along +z. Share of a family's accepted hands whose palm faces up or down (its "
             f"normal within {np.degrees(np.arccos(VERTICAL)):.0f} degrees of the vertical; normals uniform on the "
             f"sphere give {1 - VERTICAL:.0%}): hands on a cap, a rim from above or an end. By the source that "
             "proposed them.", "",
             "| family | optimiser: grasps | palm up or down | model: grasps | palm up or down |",
             "|---|---|---|---|---|"]
    for family in sorted({f for f, _ in rows}):
        cells = []
        for source in SOURCES:
            v = rows.get((family, source), [])
            cells += [str(len(v)), f"{np.mean(v):.0%}" if v else "-"]
        lines.append(f"| {family} | {' | '.join(cells)} |")
    everything = [x for v in rows.values() for x in v]
    lines += [f"| **all** | | | | {np.mean(everything):.0%} of {len(everything)} (both sources) |", ""]
    return lines


def picture_sheet(d: Dataset, path: Path, title: str, rng_seed: int = 0, among=None) -> None:
    """16 grasps drawn at random (of ``among``, indices, if given); a part to prefer in green, the rest in red."""
    g = d.g
    among = np.arange(len(g["object_id"])) if among is None else np.asarray(among)
    rng = np.random.default_rng(rng_seed)
    pick = among[rng.choice(len(among), size=min(16, len(among)), replace=False)]
    hand = HandModel()
    with torch.no_grad():
        out = hand(global_orient=torch.tensor(g["global_orient"][pick]), hand_pose=torch.tensor(g["hand_pose"][pick]),
                   transl=torch.tensor(g["transl"][pick]))
    panels = []
    for j, i in enumerate(pick):
        oid = str(g["object_id"][i])
        mesh = load_object_mesh(d.objects_dir, oid)
        faces = d.hold_faces.get(oid)
        hold = "" if faces is None else {1: ", on the part", 0: ", off the part"}.get(int(g["on_hold_part"][i]), "")
        parts = ([(mesh.vertices, mesh.faces, (0.55, 0.65, 0.85))] if faces is None else
                 [(mesh.vertices, mesh.faces[faces], (0.55, 0.78, 0.55)),
                  (mesh.vertices, mesh.faces[~faces], (0.85, 0.55, 0.55))])
        panels.append((parts + [(out.vertices[j].numpy(), hand.faces, (0.87, 0.68, 0.58))],
                       look_rotation(25, 40 * j), f"{oid} ({g['kind'][i]}, {g['source'][i]}{hold})\n"
                       f"pen {g['penetration_depth_cm'][i]:.2f} vol {g['intersection_volume_cm3'][i]:.1f} "
                       f"sim {g['sim_displacement_6dir_cm'][i]:.1f}"))
    render_sheet(panels, path, cols=4, cell=3.2, title=title)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", default=["data/grasps:data/objects",
                                                         "data/grasps_everyday:data/objects_everyday",
                                                         "data/grasps_pinch:data/objects_everyday",
                                                         "data/grasps_bulky:data/objects_everyday"],
                        metavar="GRASPS:OBJECTS")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "data_engine.md")
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    datasets = []
    for spec in args.dataset:
        grasps, objects = spec.split(":")
        datasets.append(Dataset(ROOT / grasps, ROOT / objects))

    grasps = sum(len(d.g["object_id"]) for d in datasets)
    # datasets may share a corpus (the pinch run): objects are counted once, their grasps together
    per_object = Counter(str(o) for d in datasets for o in d.g["object_id"])
    full = sum(n >= PER_OBJECT for n in per_object.values())
    with_any = len(per_object)
    processed = len({s["object_id"] for d in datasets for s in d.stats})
    corpora = {d.objects_dir: d for d in datasets}.values()
    train_total = sum(d.train_total for d in corpora)
    shapes = sum(r["split"] == "train" for d in corpora for r in d.manifest.values())
    cpu = sum(d.cpu(s) for d in datasets for s in d.stats)
    rate = grasps / max(1e-9, cpu / 60)
    lines = [
        "# Data engine report", "",
        f"Generated by `python bench/data_engine_report.py --dataset {' '.join(args.dataset)}` "
        "(do not edit by hand).", "", "Synthesis commands (each resumes where it stopped):", "", "```bash"]
    for d in datasets:
        c = d.history[-1]
        lines.append(f"nice python -m training.synthesize --objects {c['objects'].strip('[]').strip(chr(39))} "
                     f"--split {c['split']} --per-object {c['per_object']} --out "
                     f"{d.grasps_dir.relative_to(ROOT)} --workers {c['workers']} --shard-size {c['shard_size']}"
                     + (f" --mode {c['mode']}" if c.get("mode", "scratch") != "scratch" else "")
                     + "".join(f" --{key.replace('_', '-')} {c[key]}" for key in ("rounds", "type_mix", "max_size",
                                                                                "families")
                               if c.get(key) not in (None, "None", "3")))
    lines += ["```", "", "## Size against the targets", "",
              "| measure | now | target |", "|---|---|---|",
              f"| accepted grasps | {grasps} | {TARGET_GRASPS} |",
              f"| of them with three or more digits (pinches, thumb and index alone, are the rest) | "
              f"{sum(int((d.g['digits_in_contact'].sum(1) >= 3).sum()) for d in datasets)} | |",
              f"| training objects with {PER_OBJECT}+ accepted grasps | {full} (any: {with_any}) | {TARGET_OBJECTS} |",
              f"| training objects processed | {processed} of {train_total} | |",
              f"| object shapes for the autoencoder (training splits of the corpora) | {shapes} | {TARGET_SHAPES} |",
              f"| worker time | {cpu / 60:.0f} CPU-minutes ({cpu / 3600:.1f} CPU-hours) | |",
              f"| throughput | {rate:.1f} accepted grasps per CPU-minute | |"]
    missing = max(0, TARGET_GRASPS - grasps)
    if missing:
        lines.append(f"| time to the grasp target at this rate | {missing / rate / 60:.1f} CPU-hours "
                     f"({missing / rate / 60:.1f} h with one background worker) | |")
    lines.append("")
    for d in datasets:
        n, st = len(d.g["object_id"]), d.stats
        checked = sum(d.checked(s) for s in st)
        reasons, timing = Counter(), Counter()
        for s in st:
            reasons.update(s["rejected"])
            timing.update(s.get("timing", {}))
        total_t = sum(timing.values()) or 1.0
        lines += [f"### `{d.grasps_dir.relative_to(ROOT)}` on `{d.objects_dir.relative_to(ROOT)}`", "",
                  f"{len(st)} of {d.train_total} training objects processed, {len(set(d.g['object_id']))} with "
                  f"grasps, {n} accepted of {checked} checked ({n / max(1, checked):.0%}); "
                  f"{n / max(1e-9, sum(d.cpu(s) for s in st) / 60):.1f} accepted per CPU-minute. Sources: "
                  + ", ".join(f"{k} {v}" for k, v in Counter(d.g["source"].tolist()).most_common()) + ".", "",
                  "Time: " + ", ".join(f"{k} {v / total_t:.0%}" for k, v in timing.most_common()) + ". Rejections "
                  "(first failed test): " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()) + ".", ""]

    lines += ["## Acceptance by family and by size", "",
              "Objects processed so far; `with 8+`: objects that got all the grasps wanted; `accepted / checked`: "
              "candidates that passed the acceptance among those checked (checking stops at 8 per object); "
              "`on the part to prefer`: share of grasps whose contact centroid lies on a part people hold rather "
              "than the rest (a handle, a grip, a bottle's body), on objects that have one (`accept.part_to_prefer`; "
              "synthesis keeps at least three quarters of an object's grasps there).", ""]
    lines += table_by(datasets, lambda r: r["family"], "By family")
    lines += table_by(datasets, size_class, "By object size (longest side)", [s[0] for s in SIZES])

    g = {k: np.concatenate([d.g[k] for d in datasets]) for k in (
        "penetration_depth_cm", "intersection_volume_cm3", "sim_displacement_6dir_cm", "limit_violation_deg",
        "digits_in_contact", "kind", "keypoints", "object_id", "source")}
    lines += ["## Quality of accepted grasps", "",
              "| metric | mean | median | p90 | p99 | max | unit |", "|---|---|---|---|---|---|---|",
              f"| penetration depth | {stats_table(g['penetration_depth_cm'], 'cm')} |",
              f"| intersection volume (1 mm grid) | {stats_table(g['intersection_volume_cm3'], 'cm^3')} |",
              f"| simulation displacement, mean of 6 gravity directions | "
              f"{stats_table(g['sim_displacement_6dir_cm'], 'cm')} |",
              f"| joint-limit violation | {stats_table(g['limit_violation_deg'], 'deg')} |", ""]
    digits = g["digits_in_contact"]
    count = Counter(digits.sum(1).tolist())
    lines += ["Digits in contact: " + ", ".join(f"{k}: {count[k]}" for k in sorted(count)) + "; per digit: "
              + ", ".join(f"{d} {digits[:, i].mean():.0%}" for i, d in enumerate(DIGITS)) + ".", "",
              "Grasp types: " + ", ".join(f"{k} {v}" for k, v in Counter(g["kind"].tolist()).most_common()) + ".",
              ""]

    lines += ["## Diversity per family", "",
              "k-means (k = 20) entropy over canonical 21-keypoint poses (`jhod_core.metrics.diversity`; max ln 20 = "
              "3.00), for families with at least 40 grasps.", "",
              "| family | objects | grasps | entropy | cluster size (cm) |", "|---|---|---|---|---|"]
    by_family = defaultdict(list)
    offset = 0
    for d in datasets:
        for i, oid in enumerate(d.g["object_id"]):
            by_family[d.manifest[str(oid)]["family"]].append(offset + i)
        offset += len(d.g["object_id"])
    for family, idx in sorted(by_family.items()):
        objs = len({str(g["object_id"][i]) for i in idx})
        if len(idx) < 40:
            lines += [f"| {family} | {objs} | {len(idx)} | n/a (< 40 grasps) | n/a |"]
            continue
        ent, size = diversity(g["keypoints"][idx], seed=0)
        lines += [f"| {family} | {objs} | {len(idx)} | {ent:.2f} | {size:.2f} |"]
    ent, size = diversity(g["keypoints"], seed=0)
    lines += [f"| **all** | {len(set(g['object_id']))} | {len(g['object_id'])} | {ent:.2f} | {size:.2f} |", ""]

    lines += palm_faces_up_or_down(datasets)

    lines += ["## Picture sheets", ""]
    for k, d in enumerate(datasets):
        name = "grasp_sheet.png" if k == 0 else f"grasp_sheet_{d.grasps_dir.name}.png"
        picture_sheet(d, args.images / name, f"Random accepted grasps, {d.grasps_dir.name} (seed 0)")
        lines += [f"![random accepted grasps of {d.grasps_dir.name}](images/{name})", ""]
        with_part = [i for i, oid in enumerate(d.g["object_id"]) if str(oid) in d.hold_faces]
        if with_part:
            name = f"grasp_sheet_{d.grasps_dir.name}_hold_parts.png"
            picture_sheet(d, args.images / name, f"Random accepted grasps on objects with a part to prefer, "
                          f"{d.grasps_dir.name} (seed 0; green: the part, red: the rest)", among=with_part)
            lines += [f"![random accepted grasps of {d.grasps_dir.name} on objects with a part to prefer]"
                      f"(images/{name})", ""]
    lines += ["16 grasps per sheet drawn at random (seed 0); labels: object, grasp type, source, hold part, "
              "penetration cm, intersection volume cm^3, 6-direction simulation displacement cm.", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
