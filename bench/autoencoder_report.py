"""How well object autoencoders rebuild held-out objects: Chamfer and RMS nearest-neighbour distance per family, next to
the metric's own floor (two independent 2048-point samples of the same mesh), and a picture.

    python bench/autoencoder_report.py --models shipped=jhod_core/assets/model/autoencoder.npz \
        v2=models/autoencoder_v2b/autoencoder.pt --out docs/eval/autoencoder

Objects: ``--split`` (default val) and the held-out families (ood_family) of ``--objects``, at most
``--per-family`` per family (first in manifest order). Each model encodes the object's stored 2048 points (posterior
mean) and decodes 2048 points; Chamfer = mean squared nearest-neighbour distance both ways (m^2), RMS NN =
sqrt(Chamfer / 2) in mm. The floor compares the stored points with a fresh seeded sample of the mesh: no decoder
that outputs an independent sample of the surface can go below it on average.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jhod_core.geometry.sampling import sample_triangles  # noqa: E402
from jhod_core.torch.autoencoder import ObjectAutoencoder  # noqa: E402
from training.data.corpus import load_manifest, load_object_mesh, load_object_points  # noqa: E402
from training.losses import chamfer_distance  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", nargs="+", default=["data/objects", "data/objects_everyday"])
    p.add_argument("--models", nargs="+", required=True, help="name=path (.pt or .npz) of each autoencoder")
    p.add_argument("--split", default="val")
    p.add_argument("--per-family", type=int, default=12)
    p.add_argument("--out", default="docs/eval/autoencoder")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def chosen_objects(roots, split: str, per_family: int) -> list[tuple[str, str, str]]:
    """(root, id, family) of the split's objects and every held-out family's, ``per_family`` each."""
    out, count = [], {}
    for root in roots:
        for row in load_manifest(root):
            if row["split"] not in (split, "ood_family"):
                continue
            family = row["family"] + (" (held-out family)" if row["split"] == "ood_family" else "")
            if count.get(family, 0) < per_family:
                count[family] = count.get(family, 0) + 1
                out.append((root, row["id"], family))
    return out


def chamfer_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return chamfer_distance(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)).numpy()


@torch.no_grad()
def reconstruct(model, points: np.ndarray, batch: int = 32) -> np.ndarray:
    out = []
    for i in range(0, len(points), batch):
        x = torch.as_tensor(points[i:i + batch], dtype=torch.float32)
        out.append(model.decode(model.encode(x)).numpy())
    return np.concatenate(out)


def rms_mm(chamfer: np.ndarray) -> float:
    return float(1000 * (np.mean(chamfer) / 2) ** 0.5)


def picture(points, recons: dict, labels, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 1 + len(recons)
    fig = plt.figure(figsize=(2.6 * cols, 2.6 * len(points)))
    for r, p in enumerate(points):
        for c, (name, cloud) in enumerate([("input", p), *[(n, v[r]) for n, v in recons.items()]]):
            ax = fig.add_subplot(len(points), cols, r * cols + c + 1, projection="3d")
            ax.scatter(*cloud.T, s=0.4, c="0.4" if c == 0 else "tab:blue")
            ax.set_box_aspect(np.ptp(p, axis=0) + 1e-3)
            ax.set_axis_off()
            ax.set_title(f"{labels[r]}\n{name}" if c == 0 else name, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    chosen = chosen_objects(args.objects, args.split, args.per_family)
    ids, points, _ = load_object_points(args.objects)
    index = {str(i): k for k, i in enumerate(ids)}
    pts = points[[index[i] for _, i, _ in chosen]]
    families = np.array([f for _, _, f in chosen])
    floor = []
    for (root, oid, _), p in zip(chosen, pts):  # a second, independent sample of the same mesh
        mesh = load_object_mesh(root, oid)
        fresh, _, _ = sample_triangles(mesh.vertices, mesh.faces, len(p), seed=np.random.SeedSequence([7]))
        fresh -= (mesh.bounds[0] + mesh.bounds[1]) / 2
        floor.append(chamfer_rows(fresh[None], p[None])[0])
    floor = np.array(floor)
    models = {}
    for spec in args.models:
        name, path = spec.split("=", 1)
        models[name] = ObjectAutoencoder.load(path).eval()
    recons = {name: reconstruct(m, pts) for name, m in models.items()}
    chamfers = {name: chamfer_rows(r, pts) for name, r in recons.items()}

    names = list(models)
    lines = ["# Object autoencoder: held-out reconstruction", "",
             f"`python bench/autoencoder_report.py --models {' '.join(args.models)} --split {args.split} "
             f"--per-family {args.per_family} --out {args.out}` ({time.strftime('%Y-%m-%d')}, "
             f"{time.perf_counter() - start:.0f} s): {len(chosen)} objects ({args.split} split, up to "
             f"{args.per_family} per family, plus the held-out families). RMS nearest-neighbour distance in mm "
             "(sqrt(Chamfer / 2)); **floor**: a second independent 2048-point sample of the same mesh against the "
             "stored one, what a perfect decoder of an independent surface sample would score.", "",
             "| family | objects | floor | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    summary = {"objects": len(chosen), "floor_rms_nn_mm": rms_mm(floor), "models": {}}
    for family in sorted(set(families)):
        sel = families == family
        lines.append(f"| {family} | {sel.sum()} | {rms_mm(floor[sel]):.2f} | "
                     + " | ".join(f"{rms_mm(chamfers[n][sel]):.2f}" for n in names) + " |")
    held = np.array(["held-out" in f for f in families])
    for label, sel in (("**all seen families**", ~held), ("**held-out families**", held),
                       ("**all**", np.ones(len(held), bool))):
        if sel.any():
            lines.append(f"| {label} | {sel.sum()} | {rms_mm(floor[sel]):.2f} | "
                         + " | ".join(f"{rms_mm(chamfers[n][sel]):.2f}" for n in names) + " |")
    for n in names:
        summary["models"][n] = {"path": dict(s.split("=", 1) for s in args.models)[n],
                                "rms_nn_mm": rms_mm(chamfers[n]), "chamfer_m2": float(chamfers[n].mean()),
                                "rms_nn_mm_held_out_families": rms_mm(chamfers[n][held]) if held.any() else None}
    lines += ["", "Chamfer (m^2, mean): " + ", ".join(f"{n} {chamfers[n].mean():.3g}" for n in names)
              + f", floor {floor.mean():.3g}.", "", "![reconstructions](reconstructions.png)", ""]
    # one object of several families, spread over the list
    show = np.unique([np.flatnonzero(families == f)[0] for f in sorted(set(families))])
    show = show[np.linspace(0, len(show) - 1, min(6, len(show))).astype(int)]
    picture(pts[show], {n: r[show] for n, r in recons.items()}, families[show], out / "reconstructions.png")
    (out / "report.md").write_text("\n".join(lines))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
