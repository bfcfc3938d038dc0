"""An image strip of Add Approach: the shipped model's grasp on a mug, animated by the add-on, five frames in Cycles.

    python tools/render_approach_strip.py [--out docs/images/approach_strip.png] [--samples 24] [--resolution 256]

Runs the add-on from the checkout in Blender's Python (bpy from PyPI): Generate Grasp on Selection (steered: near
the mug's side, approach along +X), Add Approach (24 frames), then renders frames 1, 7, 13, 19, 25.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

import jhod_blender  # noqa: E402
from jhod_blender import maps, render  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object", default=str(ROOT / "data/objects/meshes/pb_named_mug.ply"))
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/approach_strip.png")
    args = parser.parse_args(argv)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    jhod_blender.register()
    entry = bpy.context.preferences.addons.new()
    entry.module = "jhod_blender"
    entry.preferences.backend = "NUMPY"
    scene = bpy.context.scene
    bpy.ops.wm.ply_import(filepath=args.object)
    mug = bpy.context.selected_objects[0]
    bpy.context.view_layer.objects.active = mug
    half = np.array(mug.dimensions) / 2
    scene.cursor.location = (half[0], 0.0, 0.0)  # the mug's +X side, half way up
    settings = scene.jhod
    settings.num_grasps, settings.seed = 1, 0
    settings.steer_target, settings.steer_approach, settings.steer_type = "CURSOR", "-X", "power"
    assert bpy.ops.jhod.generate_grasp() == {"FINISHED"}
    hand = bpy.context.view_layer.objects.active
    scene.frame_set(1)
    assert bpy.ops.jhod.add_approach(frames=24) == {"FINISHED"}
    # a render setup next to the artist's scene objects: world, light and camera from the maps renderer
    render.configure_scene(scene, "CYCLES", args.resolution, args.resolution, args.samples)
    cam = scene.camera
    target = Vector((0.05, 0.0, 0.0))
    cam.location = target + Vector((0.15, -0.42, 0.16))
    cam.rotation_euler = (target - cam.location).to_track_quat("-Z", "Y").to_euler()
    mug.data.materials.append(render.surface_material("mug", render.OBJECT_SRGB))
    mug.data.shade_smooth()
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for frame in (1, 7, 13, 19, 25):
            scene.frame_set(frame)
            path = Path(tmp) / f"{frame}.png"
            render.render_rgb(scene, path)
            tiles.append(render.read_image(path)[..., :3])
    strip = maps.sheet([tiles], cell=args.resolution)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    maps.write_png(args.out, strip)
    print(f"wrote {args.out}: frames 1, 7, 13, 19, 25 of the approach of {hand.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
