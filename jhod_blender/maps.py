"""Conditioning maps from rendered data passes, in plain NumPy (no bpy: tested without Blender): depth, normals
(ControlNet normalbae colours), geometric edges, hand/object masks, contact sheets, and writing them as PNG.

``render.py`` renders the passes in Blender and calls these. Conventions: docs/batch_rendering.md.
"""

from __future__ import annotations

import math

import numpy as np

MAP_FILES = ("rgb.png", "depth.png", "normal.png", "edges.png", "mask.png", "hand_pose.png")
HAND_LABEL, OBJECT_LABEL = 1, 2
DEPTH_PNG_FAR = 0.1          # farthest foreground pixel in depth.png (background is 0)
EDGE_DEPTH_JUMP = 3.0        # depth jump > 3 x pixel footprint x (1 + tan(view angle)) = occlusion edge
EDGE_CREASE_DEG = 35.0       # normals of neighbouring pixels differ by more = edge
NORMAL_BACKGROUND = (0.5, 0.5, 1.0)


def encode_depth(depth: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """8-bit depth.png: inverse depth normalised over the foreground, near = 255, farthest = 10 %, background 0."""
    fg = labels > 0
    out = np.zeros(depth.shape, dtype=np.uint8)
    if not fg.any():
        return out, (0.0, 0.0)
    z = depth[fg].astype(np.float64)
    zmin, zmax = float(z.min()), float(z.max())
    inv, inv_near, inv_far = 1.0 / z, 1.0 / zmin, 1.0 / zmax
    t = (inv - inv_far) / (inv_near - inv_far) if inv_near > inv_far else np.ones_like(z)
    out[fg] = np.floor((DEPTH_PNG_FAR + (1.0 - DEPTH_PNG_FAR) * t) * 255.0 + 0.5).astype(np.uint8)
    return out, (zmin, zmax)


def encode_normals(normals: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ControlNet normalbae colours: c = (n + 1) / 2 with red flipped, i.e. R = (1 - nx) / 2,
    G = (1 + ny) / 2, B = (1 + nz) / 2 for Blender camera-space n; background (0.5, 0.5, 1.0)."""
    c = (np.asarray(normals, dtype=np.float64) + 1.0) / 2.0
    c[..., 0] = 1.0 - c[..., 0]
    c[labels == 0] = NORMAL_BACKGROUND
    return np.floor(np.clip(c, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def decode_normals(rgb: np.ndarray) -> np.ndarray:
    """Inverse of encode_normals (unit vectors, Blender camera space)."""
    c = np.asarray(rgb, dtype=np.float64)[..., :3] / 255.0
    n = 2.0 * c - 1.0
    n[..., 0] *= -1.0
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)


def detect_edges(depth: np.ndarray, normals: np.ndarray, labels: np.ndarray, K: np.ndarray,
                 depth_jump: float = EDGE_DEPTH_JUMP, crease_deg: float = EDGE_CREASE_DEG) -> np.ndarray:
    """Thin geometric edges (H, W) bool from the data passes.

    Two 4-neighbours are separated by an edge when their labels differ (silhouette, hand/object
    border), their depths jump (occlusion), or their normals differ by more than `crease_deg`
    (crease). A jump counts when |dz| > depth_jump * footprint * (1 + tan t), footprint = z / f the
    pixel size at that depth and t the angle between surface normal and view ray on the more
    frontal of the two pixels: a surface seen at a grazing angle changes depth quickly from pixel to
    pixel without being an edge. The pixel nearer to the camera of each pair is marked, so every
    line is one pixel wide and sits on the occluding surface.
    """
    h, w = labels.shape
    fg = labels > 0
    z = np.where(fg, depth.astype(np.float64), np.inf)
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], -(v - K[1, 2]) / K[1, 1], -np.ones((h, w))], axis=-1)  # Blender camera
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    cos_view = np.abs((normals * rays).sum(-1))
    tan_view = np.sqrt(np.maximum(1.0 - cos_view ** 2, 0.0)) / np.maximum(cos_view, 0.02)
    edges = np.zeros(labels.shape, dtype=bool)
    cos_crease = math.cos(math.radians(crease_deg))
    for axis in (0, 1):
        a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        la, lb, za, zb = labels[a], labels[b], z[a], z[b]
        same = (la == lb) & (la > 0)
        with np.errstate(invalid="ignore"):
            allowed = depth_jump * np.minimum(za, zb) / K[0, 0] * (1.0 + np.minimum(tan_view[a], tan_view[b]))
            jump = same & (np.abs(za - zb) > allowed)
        crease = same & ((normals[a] * normals[b]).sum(-1) < cos_crease)
        pair = (la != lb) | jump | crease
        a_nearer = za <= zb
        edges[a] |= pair & a_nearer
        edges[b] |= pair & ~a_nearer
    return edges


def encode_mask(labels: np.ndarray) -> np.ndarray:
    """RGB mask: hand = (255, 0, 0), object = (0, 255, 0), background black (visible surfaces)."""
    out = np.zeros(labels.shape + (3,), dtype=np.uint8)
    out[labels == HAND_LABEL, 0] = 255
    out[labels == OBJECT_LABEL, 1] = 255
    return out


# OpenPose hand skeleton: 21 keypoints (0 wrist; 1-4 thumb; 5-8 index; 9-12 middle; 13-16 ring; 17-20 little finger,
# base to tip), 20 bones, each drawn in its own hue going round the colour wheel, keypoints as red dots on black.
OPENPOSE_HAND_BONES = tuple((0 if j % 4 == 0 else j, j + 1) for j in range(20))
HAND_LINE_WIDTH, HAND_DOT_RADIUS = 2.0, 3.0


def _hue(k: int, n: int) -> np.ndarray:
    """Fully saturated RGB (0..255) of hue k / n."""
    h = 6.0 * k / n
    x = 1.0 - abs(h % 2.0 - 1.0)
    rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][int(h) % 6]
    return np.floor(np.array(rgb) * 255.0 + 0.5)


def draw_hand_keypoints(hands_uv, width: int, height: int, visible=None) -> np.ndarray:
    """OpenPose-style hand map (height, width, 3) uint8: for each hand (21, 2) pixel coordinates (u right, v down),
    the 20 bones as coloured lines and the keypoints as red dots; ``visible`` (per hand (21,) bool) hides
    keypoints (and their bones) behind the camera or off the image."""
    out = np.zeros((height, width, 3), dtype=np.uint8)
    v_grid, u_grid = np.mgrid[0:height, 0:width]
    for h, uv in enumerate(hands_uv):
        uv = np.asarray(uv, dtype=np.float64)
        seen = np.ones(21, bool) if visible is None else np.asarray(visible[h], bool)
        for k, (a, b) in enumerate(OPENPOSE_HAND_BONES):
            if seen[a] and seen[b]:
                out[_segment_mask(u_grid, v_grid, uv[a], uv[b], HAND_LINE_WIDTH / 2.0)] = _hue(k, 20)
        for j in np.nonzero(seen)[0]:
            out[_segment_mask(u_grid, v_grid, uv[j], uv[j], HAND_DOT_RADIUS)] = (255, 0, 0)
    return out


def _segment_mask(u, v, a, b, radius: float) -> np.ndarray:
    """Pixels whose centre lies within ``radius`` of the segment a-b (a bone, or a dot when a == b)."""
    d = b - a
    length2 = float(d @ d)
    t = 0.0 if length2 == 0.0 else np.clip(((u - a[0]) * d[0] + (v - a[1]) * d[1]) / length2, 0.0, 1.0)
    return (u - (a[0] + t * d[0])) ** 2 + (v - (a[1] + t * d[1])) ** 2 <= radius ** 2


def openpose_hands_json(hands_uv, sides, width: int, height: int, visible=None) -> dict:
    """The keypoints in OpenPose's JSON layout: one person per hand with ``hand_right_keypoints_2d`` or
    ``hand_left_keypoints_2d`` as [u, v, confidence] x 21 (confidence 0 for hidden keypoints)."""
    people = []
    for h, (uv, side) in enumerate(zip(hands_uv, sides)):
        seen = np.ones(21, bool) if visible is None else np.asarray(visible[h], bool)
        flat = [float(x) for u, v, c in zip(*np.asarray(uv, dtype=np.float64).T, seen) for x in (u, v, float(c))]
        empty = [0.0] * 63
        people.append({"hand_right_keypoints_2d": flat if side == "right" else empty,
                       "hand_left_keypoints_2d": flat if side == "left" else empty})
    return {"version": 1.3, "canvas_width": int(width), "canvas_height": int(height), "people": people}


def write_png(path, image: np.ndarray) -> None:
    """An 8-bit PNG (gray, RGB or RGBA; top row first) with exact values: Blender's own image writer inside
    Blender (Non-Color, so no view transform touches the values), Pillow outside."""
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8:
        raise TypeError(f"write_png needs uint8, got {img.dtype}")
    if img.ndim == 2:
        img = img[..., None]
    try:
        import bpy
    except ImportError:
        from PIL import Image

        Image.fromarray(img[..., 0] if img.shape[2] == 1 else img).save(path)
        return
    _write_png_with_blender(bpy, path, img)


def _write_png_with_blender(bpy, path, img: np.ndarray) -> None:
    h, w, channels = img.shape
    image = bpy.data.images.new("jhod_png", w, h, alpha=channels == 4, float_buffer=False)
    settings = bpy.context.scene.render.image_settings
    saved = (settings.file_format, settings.color_mode, settings.color_depth)
    try:
        image.colorspace_settings.name = "Non-Color"
        rgba = np.ones((h, w, 4), dtype=np.float32)
        rgba[..., :3] = (img if channels >= 3 else np.repeat(img, 3, axis=2))[..., :3] / 255.0
        if channels == 4:
            rgba[..., 3] = img[..., 3] / 255.0
        image.pixels.foreach_set(rgba[::-1].ravel())
        settings.file_format, settings.color_depth = "PNG", "8"
        settings.color_mode = {1: "BW", 3: "RGB", 4: "RGBA"}[channels]
        image.save_render(str(path), scene=bpy.context.scene)
    finally:
        settings.file_format, settings.color_mode, settings.color_depth = saved
        bpy.data.images.remove(image)


def sheet(rows: list[list[np.ndarray]], cell: int = 256, thin_columns=()) -> np.ndarray:
    """Square images (H, H, C) uint8 in rows -> one sheet of ``cell`` x ``cell`` tiles with 4 px white gutters;
    the tiles of ``thin_columns`` (edge maps) are downscaled with a max filter so that thin lines stay."""
    gutter = 4
    width = max(len(r) for r in rows)
    out = np.full((len(rows) * (cell + gutter) + gutter, width * (cell + gutter) + gutter, 3), 255, dtype=np.uint8)
    for r, tiles in enumerate(rows):
        for c, img in enumerate(tiles):
            img = img[..., None] if img.ndim == 2 else img
            img = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]
            y, x = gutter + r * (cell + gutter), gutter + c * (cell + gutter)
            out[y:y + cell, x:x + cell] = _resize(img, cell, keep_max=c in thin_columns)
    return out


def _resize(img: np.ndarray, size: int, keep_max: bool = False) -> np.ndarray:
    """Downscale to size x size: box filter (max with `keep_max`, so thin lines stay) by an integer
    factor, nearest neighbour otherwise."""
    h = img.shape[0]
    if h % size == 0:
        f = h // size
        blocks = img.reshape(size, f, size, f, -1)
        return blocks.max(axis=(1, 3)) if keep_max else blocks.mean(axis=(1, 3)).round().astype(np.uint8)
    idx = (np.arange(size) * h / size).astype(int)
    return img[idx][:, idx]
