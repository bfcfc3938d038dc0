"""Small offscreen mesh renderer (matplotlib, Lambert shading) for reports and README pictures.

Not a production renderer: the Blender add-on renders for real. matplotlib is an optional
dependency (the `dev` / `train` extras).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def look_rotation(elev_deg: float, azim_deg: float) -> np.ndarray:
    """World -> camera rotation for a camera on a sphere looking at the origin (y up on screen)."""
    e, a = np.deg2rad(elev_deg), np.deg2rad(azim_deg)
    forward = -np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    right = np.cross(forward, [0.0, 1.0, 0.0])
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, -forward])


def draw_meshes(ax, meshes, rotation: np.ndarray, light=(0.3, 0.5, 1.0), extent: float | None = None):
    """Draw [(vertices, faces, rgb)] orthographically onto a 2D matplotlib axis."""
    from matplotlib.collections import PolyCollection

    light = np.asarray(light, float) / np.linalg.norm(light)
    polys, colors, depths = [], [], []
    for verts, faces, rgb in meshes:
        v = np.asarray(verts) @ rotation.T
        tri = v[np.asarray(faces)]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        shade = 0.25 + 0.75 * np.clip(n @ light, 0, 1)
        visible = n[:, 2] > -0.05  # back faces hidden (closed meshes)
        polys.append(tri[visible, :, :2])
        colors.append(np.clip(shade[visible, None] * np.asarray(rgb)[None], 0, 1))
        depths.append(tri[visible, :, 2].mean(1))
    polys, colors, depths = np.concatenate(polys), np.concatenate(colors), np.concatenate(depths)
    order = np.argsort(depths)  # painter's algorithm: far first
    ax.add_collection(PolyCollection(polys[order], facecolors=colors[order], edgecolors="none"))
    pts = polys.reshape(-1, 2)
    centre = (pts.max(0) + pts.min(0)) / 2
    half = extent / 2 if extent else (pts.max(0) - pts.min(0)).max() / 2 * 1.05
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal")
    ax.axis("off")


def render_sheet(panels, out: Path, cols: int, cell: float = 3.0, title: str | None = None) -> Path:
    """panels: [(meshes, rotation, label)] drawn into a grid and saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (meshes, rotation, label) in zip(axes.ravel(), panels):
        draw_meshes(ax, meshes, rotation)
        ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
