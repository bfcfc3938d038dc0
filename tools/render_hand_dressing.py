"""Render one grasp with the plain hand and with the render-ready (dressed) hand, side by side, in Cycles.

    python tools/render_hand_dressing.py [--out docs/images/hand_dressing.png] [--samples 32] [--resolution 400]

Runs in Blender's Python (bpy from PyPI). Two views per hand: the grasp from the front and the wrist from behind.
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

from jhod_blender import render, rig  # noqa: E402
from jhod_core.geometry.mesh import load_mesh  # noqa: E402
from jhod_core.hand import load_hand_data  # noqa: E402
from jhod_core.sample import sample_grasps  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object", default=str(ROOT / "data/objects/meshes/pb_named_mug.ply"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=400)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/hand_dressing.png")
    args = parser.parse_args(argv)
    mesh = load_mesh(args.object)
    grasp = sample_grasps(mesh, 1, seed=args.seed, backend="numpy")
    data = load_hand_data()
    keypoints = grasp["keypoints"][0]
    centre = (keypoints.mean(0) + mesh.bounds.mean(0)) / 2
    radius = 1.25 * np.linalg.norm(np.vstack([keypoints, mesh.vertices]) - centre, axis=1).max()
    distance = radius / np.sin(render.half_fov()) * 1.05
    wrist_dir = (keypoints[0] - keypoints[9]) / np.linalg.norm(keypoints[0] - keypoints[9])
    side = np.cross(wrist_dir, [0.0, 0.0, 1.0]) if abs(wrist_dir[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    views = []
    for direction in (side + np.array([0.0, 0.0, 0.4]), wrist_dir + 0.6 * side):  # the grasp; the wrist end
        direction = direction / np.linalg.norm(direction)
        views.append({"location": centre + distance * direction, "target": centre, "distance_m": distance,
                      "radius_m": radius})
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for dressed in (False, True):
            scene = render.reset_scene("CYCLES", args.resolution, samples=args.samples, seed=0)
            render.add_mesh_object(scene, "object", mesh.vertices, mesh.faces)
            arm, skin = rig.build_hand(data, "hand", scene.collection, dressed=dressed)
            rig.apply_pose(arm, skin, data, grasp["global_orient"][0], grasp["hand_pose"][0], grasp["transl"][0])
            if not dressed:  # what the add-on made before: flat-shaded, the renderer's plain skin colour
                render.prepare_render_object(skin, render.HAND_LABEL, render.SKIN_SRGB, sharp_angle_deg=None)
                skin.data.shade_flat()
            for k, view in enumerate(views):
                render.place_camera(scene, view)
                path = Path(tmp) / f"{int(dressed)}_{k}.png"
                render.render_rgb(scene, path)
                tiles.append(render.read_image(path)[..., :3] / 255.0)
    top = np.concatenate(tiles[:2], axis=1)
    bottom = np.concatenate(tiles[2:], axis=1)
    sheet = np.concatenate([top, bottom], axis=0)
    image = bpy.data.images.new("sheet", sheet.shape[1], sheet.shape[0])
    rgba = np.concatenate([sheet, np.ones(sheet.shape[:2] + (1,))], axis=-1)[::-1].astype(np.float32)
    image.pixels.foreach_set(rgba.ravel())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.filepath_raw = str(args.out)
    image.file_format = "PNG"
    image.save()
    print(f"wrote {args.out} (top: plain hand, bottom: dressed; left: grasp, right: wrist)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
