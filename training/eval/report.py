"""Markdown tables, metric histograms and random picture sheets for `python -m training.eval`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLUMNS = (
    ("method", "method", "{}"), ("split", "objects", "{}"), ("grasps", "N", "{}"),
    ("penetration_depth_cm", "pen. depth (cm)", "{:.2f}"), ("intersection_volume_cm3", "int. volume (cm3)", "{:.2f}"),
    ("sim_displacement_cm", "sim. disp. -y (cm)", "{:.2f}"),
    ("sim_displacement_6dir_cm", "sim. disp. 6-dir (cm)", "{:.2f}"), ("accepted", "accepted", "{:.2f}"),
    ("contact_ratio", "contact ratio", "{:.3f}"), ("three_digits_ratio", ">= 3 digits", "{:.2f}"),
    ("diversity_entropy", "entropy", "{:.2f}"), ("diversity_cluster_cm", "cluster size (cm)", "{:.2f}"),
    ("on_hold_part_ratio", "on hold part", "{:.2f}"), ("grasps_per_s", "grasps/s", "{:.2f}"), ("fid", "FID", "{:.2f}"),
)


def _cell(entry: dict, key: str, fmt: str) -> str:
    """The value, with "+- its standard error over objects" where the summary has one (``<key>_se``)."""
    if entry.get(key) is None:
        return "-"
    error = entry.get(f"{key}_se")
    return fmt.format(entry[key]) + (f" +- {fmt.format(error)}" if error is not None else "")


def markdown_table(table: list[dict]) -> str:
    lines = ["| " + " | ".join(c[1] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for entry in table:
        lines.append("| " + " | ".join(_cell(entry, key, fmt) for key, _, fmt in COLUMNS) + " |")
    lines.append("")
    lines.append("+- : standard error of the mean over objects (per-object means), where there are two or more.")
    return "\n".join(lines)


def histograms(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (("penetration_depth_cm", "penetration depth (cm)"),
            ("intersection_volume_cm3", "intersection volume (cm3)"),
            ("sim_displacement_6dir_cm", "simulation displacement, 6-dir mean (cm)"))
    methods = sorted({r["method"] for r in rows})
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6))
    for ax, (key, label) in zip(axes, keys):
        values = {m: np.array([r[key] for r in rows if r["method"] == m and r[key] is not None]) for m in methods}
        top = max([np.percentile(v, 99) for v in values.values() if len(v)] + [1e-3])
        for m, v in values.items():
            if len(v):
                ax.hist(np.clip(v, 0, top), bins=30, range=(0, top), histtype="step", label=m, density=True)
        ax.set_xlabel(label)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def speed_quality(table: list[dict], path: Path) -> bool:
    """Grasps per second (log scale) against penetration and 6-direction displacement, one point per
    (method, split): where each method sits between fast and good."""
    points = [e for e in table if e.get("grasps_per_s")]
    if not points:
        return False
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (("penetration_depth_cm", "penetration depth (cm)"), ("sim_displacement_6dir_cm", "sim. disp. 6-dir (cm)"))
    fig, axes = plt.subplots(1, len(keys), figsize=(10, 3.6))
    for ax, (key, label) in zip(axes, keys):
        for e in points:
            if e.get(key) is not None:
                ax.scatter(e["grasps_per_s"], e[key], marker="o" if e["split"] != "ood_test" else "s")
                ax.annotate(f"{e['method']} ({e['split']})", (e["grasps_per_s"], e[key]), fontsize=7,
                            xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no overlapping minor labels
        ax.set_xlabel("grasps per second (log)")
        ax.set_ylabel(label + ", lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def picture_sheet(jobs: list[dict], method: str, path: Path, seed: int, count: int = 12) -> bool:
    import trimesh

    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import load_hand_data
    from jhod_core.viz import look_rotation, render_sheet

    faces = load_hand_data().closed_faces
    items = [(j, i) for j in jobs if j["method"] == method for i in range(len(j["vertices"]))]
    if not items:
        return False
    rng = np.random.default_rng(seed)
    panels = []
    for n, k in enumerate(rng.choice(len(items), size=min(count, len(items)), replace=False)):
        job, i = items[k]
        mesh = job["mesh"]
        mesh = load_mesh(mesh) if isinstance(mesh, str) else trimesh.Trimesh(*mesh, process=False)
        scene = [(mesh.vertices, mesh.faces, (0.55, 0.65, 0.85)), (job["vertices"][i], faces, (0.87, 0.68, 0.58))]
        panels.append((scene,
                       look_rotation(25, 35 * n), f"{job['object_id']} #{i}"))
    render_sheet(panels, path, cols=4, cell=3.0, title=f"{method}: random grasps (seed {seed})")
    return True


def write_report(out: Path, args, table: list[dict], rows: list[dict], jobs: list[dict]) -> None:
    histograms(rows, out / "histograms.png")
    lines = [f"# Evaluation: {', '.join(args.methods.split(','))}", "",
             f"Objects: up to {args.max_objects} per split of {args.splits} (seeded order, seed {args.seed}), "
             f"{args.num} grasps each, DDIM {args.steps} steps; simulation {'off' if args.no_sim else 'on'}.", "",
             markdown_table(table), "",
             "FID: " + (f"against `{args.fid_reference}` with `{args.fid_extractor}`." if args.fid_extractor else
                        "not computed: it needs an image feature extractor (Inception weights cannot be downloaded "
                        "here). Pass `--fid-extractor module:function` (hand/object meshes -> features) to fill it."),
             "", "![metric histograms](histograms.png)", ""]
    if not args.no_sim:
        from training.eval.by_size import object_extents_cm, size_table

        lines += ["## Simulation displacement by object size", "",
                  "Largest bounding-box extent of the object (`python -m training.eval.by_size` makes the same "
                  "table from `rows.jsonl`): the protocol's 1 kg objects drop most often from hands on large ones.", "",
                  size_table(rows, object_extents_cm(args.objects, rows))]
    if speed_quality(table, out / "speed_quality.png"):
        lines += ["![speed against quality](speed_quality.png)", ""]
    for method in args.methods.split(","):
        name = f"sheet_{method}.png"
        if picture_sheet(jobs, method, out / name, args.seed):
            lines += [f"![{method}]({name})", ""]
    (out / "report.md").write_text("\n".join(lines))
