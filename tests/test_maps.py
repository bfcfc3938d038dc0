"""Conditioning maps in plain NumPy (jhod_blender.maps): no Blender needed, except for Blender's own PNG writer."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _load_maps():
    """maps.py on its own (importing the add-on package needs bpy)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("jhod_blender_maps", ROOT / "jhod_blender" / "maps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


maps = _load_maps()


def test_depth_png_near_white_far_dim_background_black():
    depth = np.array([[0.5, 1.0], [2.0, 0.0]])
    labels = np.array([[1, 2], [1, 0]])
    png, (near, far) = maps.encode_depth(depth, labels)
    assert (near, far) == (0.5, 2.0)
    assert png[0, 0] == 255 and png[1, 0] == round(maps.DEPTH_PNG_FAR * 255) and png[1, 1] == 0
    assert png[1, 0] < png[0, 1] < png[0, 0]  # inverse depth: nearer is brighter


def test_normals_round_trip_and_background():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(8, 8, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    labels = np.ones((8, 8), int)
    labels[0, 0] = 0
    rgb = maps.encode_normals(n, labels)
    assert tuple(rgb[0, 0]) == (128, 128, 255)
    back = maps.decode_normals(rgb)
    assert np.degrees(np.arccos(np.clip((back * n).sum(-1)[labels > 0], -1, 1))).max() < 1.0
    assert tuple(maps.encode_normals(np.array([[[1.0, 0, 0]]]), np.ones((1, 1)))[0, 0]) == (0, 128, 128)


def test_edges_mark_silhouettes_and_depth_steps_one_pixel_wide():
    h = w = 16
    labels = np.zeros((h, w), int)
    labels[4:12, 4:12] = 2
    depth = np.full((h, w), 1.0)
    depth[4:12, 8:12] = 1.5  # a step inside the object
    normals = np.zeros((h, w, 3))
    normals[..., 2] = 1.0
    K = np.array([[100.0, 0, 8], [0, 100.0, 8], [0, 0, 1]])
    edges = maps.detect_edges(depth, normals, labels, K)
    assert edges[4, 4:12].all() and edges[11, 4:12].all()  # silhouette, on the object side
    assert edges[5:11, 7].all() and not edges[5:11, 8].any()  # the nearer side of the step
    assert not edges[:3].any() and not edges[6, 5:7].any()


def test_mask_colours():
    mask = maps.encode_mask(np.array([[0, maps.HAND_LABEL, maps.OBJECT_LABEL]]))
    assert mask.tolist() == [[[0, 0, 0], [255, 0, 0], [0, 255, 0]]]


def test_sheet_tiles_and_thin_lines():
    line = np.zeros((64, 64, 1), np.uint8)
    line[10, :] = 255
    rgb = np.full((64, 64, 3), 100, np.uint8)
    out = maps.sheet([[rgb, line]], cell=16, thin_columns={1})
    assert out.shape == (4 + 16 + 4, 4 + 2 * (16 + 4), 3)
    assert (out[4:20, 4:20] == 100).all() and out[4 + 2, 24:40].min() == 255  # the line survives 4x shrinking
    assert (out[:4] == 255).all()


def test_png_writer_is_exact_without_blender(tmp_path):
    code = f"""
import sys
sys.modules["bpy"] = None
import importlib.util
spec = importlib.util.spec_from_file_location("maps", {str(ROOT / 'jhod_blender' / 'maps.py')!r})
maps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(maps)
import numpy as np
rng = np.random.default_rng(0)
for c in (1, 3, 4):
    img = rng.integers(0, 256, size=(9, 7, c)).astype(np.uint8)
    maps.write_png({str(tmp_path)!r} + f"/p{{c}}.png", img)
    np.save({str(tmp_path)!r} + f"/p{{c}}.npy", img)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    for c in (1, 3, 4):
        back = np.asarray(Image.open(tmp_path / f"p{c}.png"))
        assert np.array_equal(back.reshape(9, 7, c), np.load(tmp_path / f"p{c}.npy"))


def test_png_writer_is_exact_in_blender(tmp_path):
    pytest.importorskip("bpy", reason="install the [blender] extra (bpy==5.0.1) for add-on tests")
    rng = np.random.default_rng(1)
    for c in (1, 3, 4):
        img = rng.integers(0, 256, size=(9, 7, c)).astype(np.uint8)
        maps.write_png(tmp_path / f"b{c}.png", img)
        back = np.asarray(Image.open(tmp_path / f"b{c}.png"))
        assert np.array_equal(back.reshape(9, 7, c), img)
    with pytest.raises(TypeError, match="uint8"):
        maps.write_png(tmp_path / "x.png", np.zeros((2, 2), np.uint16))


def test_openpose_hand_map_colours_bones_and_dots():
    from jhod_blender.maps import OPENPOSE_HAND_BONES, draw_hand_keypoints, openpose_hands_json

    assert len(OPENPOSE_HAND_BONES) == 20 and OPENPOSE_HAND_BONES[:5] == ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5))
    uv = np.zeros((21, 2))
    uv[0] = (100, 110)  # wrist; five fingers fanning upwards, four keypoints each
    for f, angle in enumerate(np.radians([150, 115, 90, 65, 40])):
        for j in range(4):
            uv[1 + 4 * f + j] = uv[0] + (20 + 22 * j) * np.array([np.cos(angle), -np.sin(angle)])
    img = draw_hand_keypoints([uv], 200, 128)
    assert img.shape == (128, 200, 3) and img.dtype == np.uint8
    assert tuple(img[110, 100]) == (255, 0, 0)  # a keypoint: red dot
    assert not img[:3].any() and not img[125:].any()  # background stays black
    colours = {tuple(c) for c in img.reshape(-1, 3)} - {(255, 0, 0), (0, 0, 0)}
    assert len(colours) == 19  # one hue per bone; the first bone is red like the dots
    hidden = draw_hand_keypoints([uv], 200, 128, visible=[np.arange(21) < 5])  # only the thumb
    assert len({tuple(c) for c in hidden.reshape(-1, 3)} - {(255, 0, 0), (0, 0, 0)}) == 3  # thumb bones 2-4
    data = openpose_hands_json([uv, uv], ["right", "left"], 200, 128, visible=[np.ones(21, bool), np.arange(21) < 3])
    right, left = data["people"]
    assert len(right["hand_right_keypoints_2d"]) == 63 and right["hand_left_keypoints_2d"] == [0.0] * 63
    assert left["hand_left_keypoints_2d"][:3] == [100.0, 110.0, 1.0] and left["hand_left_keypoints_2d"][-1] == 0.0
