"""Accepted grasps per CPU-second of the synthesizer under a few settings, on fixed objects.

    python bench/synthesis_throughput.py [--objects ID ...] [--per-object 8]

Uses process CPU time (robust to other jobs on the machine). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from jhod_core.hand.regions import finger_vertex_ids
from training.data.corpus import load_object_mesh
from training.synthesize.accept import check_grasp
from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig
from training.synthesize.sdf_grid import SDFGrid
from training.synthesize.worker import object_seed

SETTINGS = {"batch 32 x 1 round, 300 steps": (32, 1, 300), "batch 16 x up to 3 rounds, 300 steps": (16, 3, 300),
            "batch 16 x up to 3 rounds, 200 steps": (16, 3, 200)}


def run(object_ids, per_object, batch, rounds, steps):
    torch.set_num_threads(1)
    syn = GraspSynthesizer(config=SynthesisConfig(batch=batch, steps=steps))
    fingers = finger_vertex_ids(syn.hand.data)
    accepted, cpu = 0, 0.0
    for oid in object_ids:
        t = time.process_time()
        mesh = load_object_mesh("data/objects", oid)
        sdf = SDFGrid(mesh, resolution=syn.cfg.sdf_resolution, seed=object_seed(0, oid))
        got = 0
        for r in range(rounds):
            if got >= per_object:
                break
            res = syn.run(mesh, seed=object_seed(0, oid) + r, sdf=sdf)
            with torch.no_grad():
                out = syn.hand(global_orient=torch.tensor(res["global_orient"]),
                               hand_pose=torch.tensor(res["hand_pose"]), transl=torch.tensor(res["transl"]))
            for i in np.argsort(res["e_contact"] + 10 * res["max_depth_cm"]):
                if got >= per_object:
                    break
                _, reason = check_grasp(mesh, out.vertices[i].numpy().astype(np.float64), syn.hand.faces,
                                        res["hand_pose"][i], syn.frames, fingers)
                got += not reason
        accepted += got
        cpu += time.process_time() - t
    return accepted, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", nargs="+", default=["proc_mug_0003", "pb_random_010", "proc_bottle_0002",
                                                          "proc_box_0005"])
    parser.add_argument("--per-object", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"objects: {', '.join(args.objects)}; {args.per_object} wanted per object\n")
    print("| setting | accepted | CPU s | accepted per CPU-minute |\n|---|---|---|---|")
    for name, (batch, rounds, steps) in SETTINGS.items():
        acc, cpu = run(args.objects, args.per_object, batch, rounds, steps)
        print(f"| {name} | {acc} | {cpu:.0f} | {acc / cpu * 60:.2f} |", flush=True)


if __name__ == "__main__":
    main()
