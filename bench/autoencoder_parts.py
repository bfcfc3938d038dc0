"""Does the object code keep the part people hold apart from the rest? Reconstruction error per part.

    python bench/autoencoder_parts.py [--model jhod_core/assets/model/autoencoder.npz] [--per-family 12] \
        [--out docs/eval/autoencoder_parts.md]

Objects: validation objects of ``data/objects_everyday`` and of its held-out families that have a part to prefer
(``accept.part_to_prefer``: a handle, a grip), at most ``--per-family`` per family. The autoencoder encodes each
object's stored 2048 points (posterior mean) and decodes 2048. Each stored point takes the part of its mesh face;
per part: RMS distance (mm) from its stored points to the nearest decoded point (how well the part is rebuilt), and
the share of decoded points whose nearest stored point lies on it against the stored share (whether the part keeps
its mass). The denoiser sees the object only through this code (docs/model.md, "Handles in the data"): a blade or a
shaft the code blurs into the handle cannot be told from it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.autoencoder_report import chosen_objects, reconstruct  # noqa: E402
from jhod_core.torch.autoencoder import ObjectAutoencoder  # noqa: E402
from training.data.corpus import load_object_mesh, load_object_points  # noqa: E402
from training.synthesize.accept import object_part_to_prefer  # noqa: E402

CORPUS = "data/objects_everyday"


def part_errors(points: np.ndarray, recon: np.ndarray, on_part: np.ndarray) -> dict:
    """RMS mm from each part's stored points to the decoded ones, and each part's share of stored / decoded points
    (a decoded point belongs to the part of its nearest stored point)."""
    to_recon, _ = cKDTree(recon).query(points)
    _, nearest = cKDTree(points).query(recon)
    out = {}
    for name, mask in (("hold", on_part), ("rest", ~on_part)):
        out[f"{name}_rms_mm"] = float(np.sqrt(np.mean(to_recon[mask] ** 2)) * 1000)
        out[f"{name}_share"] = float(mask.mean())
        out[f"{name}_share_decoded"] = float(on_part[nearest].mean() if name == "hold" else (~on_part[nearest]).mean())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="jhod_core/assets/model/autoencoder.npz")
    p.add_argument("--per-family", type=int, default=12)
    p.add_argument("--out", default="docs/eval/autoencoder_parts.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    chosen = []
    for root, oid, family in chosen_objects([CORPUS], "val", 10_000):
        hold = object_part_to_prefer(root, oid)
        if hold is not None and sum(f == family for *_, f in chosen) < args.per_family:
            chosen.append((oid, hold, family))
    ids, points, _ = load_object_points([CORPUS])
    index = {str(i): k for k, i in enumerate(ids)}
    pts = points[[index[oid] for oid, _, _ in chosen]]
    recon = reconstruct(ObjectAutoencoder.load(args.model).eval(), pts)
    rows = []
    for (oid, hold, family), stored, decoded in zip(chosen, pts, recon):
        mesh = load_object_mesh(CORPUS, oid)
        centre = (mesh.bounds[0] + mesh.bounds[1]) / 2  # stored points are centred on the bounds
        _, _, face = trimesh.proximity.closest_point(mesh, stored + centre)
        rows.append({"family": family, **part_errors(stored, decoded, hold[face])})
    lines = ["# Does the object code keep the part people hold apart from the rest?", "",
             f"`python bench/autoencoder_parts.py --model {args.model} --per-family {args.per_family}` "
             f"({time.strftime('%Y-%m-%d')}, {time.perf_counter() - start:.0f} s).", "",
             __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| family | objects | part to prefer: RMS (mm) | the rest: RMS (mm) | the rest: stored share "
             "| the rest: decoded share |", "|---|---|---|---|---|---|"]
    for family in dict.fromkeys(r["family"] for r in rows):
        sel = [r for r in rows if r["family"] == family]
        mean = {k: np.mean([r[k] for r in sel]) for k in sel[0] if k != "family"}
        lines.append(f"| {family} | {len(sel)} | {mean['hold_rms_mm']:.1f} | {mean['rest_rms_mm']:.1f} "
                     f"| {mean['rest_share']:.2f} | {mean['rest_share_decoded']:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
