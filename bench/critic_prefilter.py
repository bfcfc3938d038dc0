"""Could the critic skip the data engine's simulation for candidates that will not hold? Measured, not assumed.

    python bench/critic_prefilter.py [--objects 12] [--out docs/eval/critic_prefilter.md]

Objects: the first ``--objects`` of ``bench/synthesis_throughput.py``'s validation objects (one per everyday family).
Per object, one bootstrap round (the shipped model's 16 proposals, polished) and one scratch round (16 candidates),
as the data engine makes them; every candidate is checked with the data engine's acceptance (no stop at 8 per
object), and the shipped critic's p(held) is recorded for it. Replayed: skipping the simulation (and what follows)
for candidates with p below a threshold: accepted grasps kept, CPU saved.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from bench.synthesis_throughput import pick_objects
    from jhod_core.critic import critic_regions, grasp_features, load_critic
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import load_hand_data
    from jhod_core.hand.regions import finger_vertex_ids
    from jhod_core.pipeline import DEFAULT_WEIGHTS_DIR
    from jhod_core.refine import ObjectSurface
    from training.critic.train import auc
    from training.synthesize.accept import check_grasp
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig
    from training.synthesize.sdf_grid import SDFGrid
    from training.synthesize.worker import POLISH_STEPS, _hold_faces, _model_proposals, object_seed

    critic, regions = load_critic(DEFAULT_WEIGHTS_DIR), critic_regions(load_hand_data())
    syn = GraspSynthesizer(config=SynthesisConfig(batch=16, steps=200))
    fingers = finger_vertex_ids(syn.hand.data)
    start = time.perf_counter()
    rows = []  # (p, accepted, reached the simulation, seconds of simulation + volume, seconds of the whole check)
    generate = 0.0
    objects = pick_objects(1)[:args.objects]
    for k, (object_id, path) in enumerate(objects):
        mesh = load_mesh(path)
        hold, seed = _hold_faces(path, len(mesh.faces)), object_seed(0, object_id)
        sdf = SDFGrid(mesh, resolution=syn.cfg.sdf_resolution, seed=seed)
        surface = ObjectSurface.from_mesh(mesh, seed=seed)
        for source in ("model", "optimiser"):
            t = time.process_time()
            if source == "model":
                proposals = _model_proposals(mesh, 16, seed, 0, None, hold)
                result = syn.run(mesh, seed=seed, sdf=sdf, init=proposals, steps=POLISH_STEPS)
            else:
                result = syn.run(mesh, seed=seed + 1, sdf=sdf, hold_faces=hold)
            generate += time.process_time() - t
            with torch.no_grad():
                out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                               hand_pose=torch.tensor(result["hand_pose"]), transl=torch.tensor(result["transl"]))
            verts = out.vertices.numpy().astype(np.float64)
            p = critic(grasp_features(verts, surface, regions))
            for i in range(len(verts)):
                t = time.process_time()
                m, reason = check_grasp(mesh, verts[i], syn.hand.faces, result["hand_pose"][i], syn.frames, fingers,
                                        cache=str(ROOT / "data" / "grasps_everyday" / "vhacd_cache"), sdf=sdf)
                rows.append((float(p[i]), reason, "sim_displacement_6dir_cm" in m,
                             m.get("seconds_simulation", 0.0) + m.get("seconds_volume", 0.0), time.process_time() - t))
        print(f"{k + 1}/{len(objects)} {object_id} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    p = np.array([r[0] for r in rows])
    accepted = np.array([r[1] == "" for r in rows])
    reached = np.array([r[2] for r in rows])
    saved_if_skipped = np.array([r[3] for r in rows])
    total = generate + sum(r[4] for r in rows)
    lines = ["# The critic as a pre-filter in the data engine", "",
             f"`python bench/critic_prefilter.py --objects {args.objects}` ({datetime.date.today()}, "
             f"{time.perf_counter() - start:.0f} s). " + " ".join(__doc__.split("\n\n")[2].split()), "",
             f"{len(rows)} candidates, {accepted.sum()} accepted; first failed test of the others: "
             + ", ".join(f"{k} {v}" for k, v in Counter(r[1] for r in rows if r[1]).most_common()) + ". "
             f"CPU: {generate / 60:.1f} min making candidates, {(total - generate) / 60:.1f} min checking them. "
             f"AUC of the critic for 'accepted' among the {reached.sum()} candidates that reach the simulation: "
             f"{auc(p[reached], accepted[reached]):.2f}.", "",
             "| skip below p | candidates skipped | accepted kept | CPU min | accepted per CPU-min | vs no skip |",
             "|---|---|---|---|---|---|"]
    base = accepted.sum() / total
    for tau in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        skip = reached & (p < tau)
        cpu = total - saved_if_skipped[skip].sum()
        kept = (accepted & ~skip).sum()
        lines.append(f"| {tau:.1f} | {skip.sum()} | {kept} of {accepted.sum()} | {cpu / 60:.1f} "
                     f"| {kept / (cpu / 60):.1f} | {kept / cpu / base:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
