"""Click -> rigged hands in real Blender (bpy 5.0.1 module), Built-in NumPy backend, shipped weights.

    python bench/blender_timing.py [--num 4] [--steps 50,25,10] [--out docs/blender_timing.json]

Times ``bpy.ops.jhod.generate_grasp()`` (the same work as a click: evaluated selection -> points,
NumPy encoder + DDIM + refinement, armatures and skinned meshes) on an 8 cm cylinder, and
``bpy.ops.jhod.sample_hand_object()``, and Fit Fingers on one generated hand; median of 3 runs after one warm-up (the model is loaded once
per Blender session, like the add-on does). SciPy and torch are blocked unless ``--with-scipy``: a
stock Blender's Python has NumPy only, so refinement uses its brute-force nearest-neighbour search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    if "--with-scipy" not in (argv or []):
        for name in ("scipy", "torch"):
            sys.modules[name] = None  # what a stock Blender has: NumPy only
    import bpy

    import jhod_blender

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=4)
    p.add_argument("--steps", default="50,25,10")
    p.add_argument("--candidates", default="1,2", help="Generate Grasp's samples per grasp, comma separated")
    p.add_argument("--weights", default="", help="weights folder (default: the shipped model)")
    p.add_argument("--out", default=str(ROOT / "docs" / "blender_timing.json"))
    p.add_argument("--with-scipy", action="store_true", help="let refinement use SciPy's k-d tree if installed")
    args = p.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    jhod_blender.register()
    entry = bpy.context.preferences.addons.new()
    entry.module = "jhod_blender"
    entry.preferences.backend = "NUMPY"
    entry.preferences.checkpoint_path = args.weights
    scene = bpy.context.scene
    scene.jhod.num_grasps, scene.jhod.seed = args.num, 0
    rows = []
    runs = [(steps, "generate_grasp", int(c)) for steps in [int(s) for s in args.steps.split(",")]
            for c in args.candidates.split(",")] + \
        [(steps, "sample_hand_object", 1) for steps in [int(s) for s in args.steps.split(",")]]
    for steps, op_name, candidates in runs:
        scene.jhod.steps, scene.jhod.candidates = steps, candidates
        times = []
        for run in range(4):
            for obj in list(bpy.data.objects):
                bpy.data.objects.remove(obj, do_unlink=True)
            for collection in list(bpy.data.collections):
                bpy.data.collections.remove(collection)
            bpy.ops.mesh.primitive_cylinder_add(radius=0.03, depth=0.08)
            t = time.perf_counter()
            result = getattr(bpy.ops.jhod, op_name)()
            elapsed = time.perf_counter() - t
            assert result == {"FINISHED"}, result
            if run:
                times.append(elapsed)
        rows.append({"operator": op_name, "grasps": args.num, "steps": steps, "candidates": candidates,
                     "seconds_median": statistics.median(times), "seconds_all": times})
        print(json.dumps(rows[-1]), flush=True)
    # Fit Fingers on one of 4 generated hands (the default panel), moved 1 cm first as an artist would
    scene.jhod.steps, scene.jhod.candidates = 25, 2
    times = []
    for run in range(4):
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj, do_unlink=True)
        bpy.ops.mesh.primitive_cylinder_add(radius=0.03, depth=0.08)
        assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
        arm = bpy.context.view_layer.objects.active
        arm.location.x += 0.01
        t = time.perf_counter()
        assert bpy.ops.jhod.fit_fingers() == {"FINISHED"}
        if run:
            times.append(time.perf_counter() - t)
    rows.append({"operator": "fit_fingers", "grasps": 1, "seconds_median": statistics.median(times),
                 "seconds_all": times})
    print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"blender": bpy.app.version_string, "scipy": args.with_scipy, "rows": rows,
                                          "command": "python bench/blender_timing.py " + " ".join(argv or [])},
                                         indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
