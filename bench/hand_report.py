"""Measure the open hand and write docs/open_hand_report.md (run: python bench/hand_report.py)."""

import time
from pathlib import Path

import numpy as np
import torch
import trimesh

from jhod_core.hand import HandModel, load_hand_data, numpy_forward
from jhod_core.hand.joint_limits import LIMITS_DEG, anatomical_frames, limits_array, pose_from_angles
from training.assets.build_open_hand import MANO_REST_JOINTS, MANO_TIPS

OUT = Path(__file__).resolve().parents[1] / "docs" / "open_hand_report.md"


def timed(fn, repeat=20):
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat * 1e3


def main():
    data = load_hand_data()
    mesh = trimesh.Trimesh(data.v_template, data.closed_faces, process=False)
    rest_kp = numpy_forward(data)[2][0]
    rows = [
        ("vertices / faces", f"{data.num_vertices} / {len(data.closed_faces)}"),
        ("watertight, consistent winding", f"{mesh.is_watertight}, {mesh.is_winding_consistent}"),
        ("volume (flat pose)", f"{mesh.volume * 1e6:.0f} cm^3"),
        ("wrist -> middle tip", f"{np.linalg.norm(rest_kp[12] - rest_kp[0]) * 100:.1f} cm (MANO 17.6 cm)"),
        ("max rest-joint error vs MANO mean shape", f"{np.abs(data.rest_joints - MANO_REST_JOINTS).max():.1e} m"),
        ("max rest-tip error vs MANO template tips",
         f"{np.abs(rest_kp[[4, 8, 12, 16, 20]] - MANO_TIPS).max():.1e} m"),
    ]
    # parity and speed
    g = torch.Generator().manual_seed(0)
    batch = 64
    params = dict(global_orient=torch.randn(batch, 3, generator=g), hand_pose=0.5 * torch.randn(batch, 45, generator=g),
                  transl=0.1 * torch.randn(batch, 3, generator=g), betas=torch.randn(batch, 10, generator=g))
    model = HandModel()
    with torch.no_grad():
        out = model(**params)
    np_params = {k: v.numpy() for k, v in params.items()}
    verts = numpy_forward(data, **np_params)[0]
    rows.append(("torch (float32, smplx) vs NumPy forward, 64 random poses",
                 f"max vertex error {np.abs(out.vertices.numpy() - verts).max():.1e} m"))
    with torch.no_grad():
        rows.append(("torch forward, batch 64 (CPU)", f"{timed(lambda: model(**params)):.1f} ms"))
    rows.append(("NumPy forward, batch 64 (CPU)", f"{timed(lambda: numpy_forward(data, **np_params)):.1f} ms"))
    one = {k: v[:1] for k, v in np_params.items()}
    rows.append(("NumPy forward, one hand (CPU)", f"{timed(lambda: numpy_forward(data, **one)):.2f} ms"))

    # skinning under full flexion / 60 degree twist
    frames = anatomical_frames(data.rest_joints)
    vol0 = mesh.volume
    ratios, vols = [], []
    for joint in range(1, 16):
        for axis, deg in ((2, np.rad2deg(limits_array()[joint - 1, 2, 1])), (0, 60.0)):
            angles = np.zeros((15, 3))
            angles[joint - 1, axis] = np.deg2rad(deg)
            posed, joints, _ = numpy_forward(data, hand_pose=pose_from_angles(angles, frames))
            near = np.argsort(np.linalg.norm(data.v_template - data.rest_joints[joint], axis=1))[:40]
            r0 = np.linalg.norm(data.v_template[near] - data.rest_joints[joint], axis=1)
            ratios.append((np.linalg.norm(posed[0, near] - joints[0, joint], axis=1) / r0).min())
            vols.append(trimesh.Trimesh(posed[0], data.closed_faces).volume / vol0 - 1)
    rows.append(("skin kept around a joint at full flexion / 60 deg twist (worst of 15 joints)",
                 f"{min(ratios) * 100:.0f}% of rest distance (plain LBS ideal ~71%)"))
    rows.append(("volume change, same motions (worst)", f"{min(vols) * 100:+.1f}%"))

    limits = "\n".join(
        f"| {finger} | " + " | ".join(f"{lo}..{hi}" for lim in joints for lo, hi in (lim[2], lim[1], lim[0])) + " |"
        for finger, joints in LIMITS_DEG.items())
    text = """# Open hand report

Produced by `python bench/hand_report.py` (this file is generated; do not edit by hand).

![open hand](images/open_hand.png)

(`python -m training.assets.render_open_hand`)

| measure | value |
|---|---|
""" + "\n".join(f"| {k} | {v} |" for k, v in rows) + f"""

## Joint limits (degrees; bend = flexion, spread = ab/adduction, twist = axial)

| finger | base bend | base spread | base twist | middle bend | middle spread | middle twist | distal bend | distal spread | distal twist |
|---|---|---|---|---|---|---|---|---|---|
{limits}

Base/middle/distal = MCP/PIP/DIP for fingers, CMC/MCP/IP for the thumb.
"""
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
