"""OakInk-Shape (Yang et al., CVPR 2022; http://www.oakink.net; licence per its site: non-commercial research).

Layout read (as the dataset's own ``oikit/oi_shape`` reads it; ``SRC`` is ``OAKINK_DIR/shape``):

    SRC/oakink_shape_v2/<category>/<object id>/<grasp id>/hand_param.pkl               real grasps
    SRC/oakink_shape_v2/<category>/<object id>/<grasp id>/<target id>/hand_param.pkl   transferred (virtual) grasps
        pose: 48 axis-angle (or 16 x 4 quaternions w, x, y, z), flat hand mean; shape: 10 betas; tsl: the wrist
        joint's position (manotorch ``center_idx=0``), in the object's canonical frame
    SRC/metaV2/object_id.json, virtual_object_id.json                     object id -> {"name": ...}
    SRC/OakInkObjectsV2/<name>/align/*.obj|ply, SRC/OakInkVirtualObjectsV2/<name>/align/*.obj|ply

The canonical frame is the aligned mesh moved to its bounding-box centre (oikit centres the meshes it loads), so the
object's pose in the hands' frame is a translation by minus that centre. Every grasp is a static grasp: all are
kept, real and virtual.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jhod_core.errors import JHODError

from .common import SourceGrasp, safe_pickle_load

NAME = "oakink"
LICENCE = "OakInk: non-commercial research per its terms (http://www.oakink.net)"


def _axis_angle(pose) -> np.ndarray:
    pose = np.asarray(pose, np.float64)
    if pose.shape == (16, 4):  # unit quaternions (w, x, y, z) -> axis-angle
        w, xyz = np.clip(pose[:, 0], -1.0, 1.0), pose[:, 1:]
        s = np.linalg.norm(xyz, axis=1)
        angle = 2.0 * np.arctan2(s, w)
        return np.where(s[:, None] > 1e-12, xyz / np.maximum(s, 1e-12)[:, None] * angle[:, None], 0.0).reshape(48)
    if pose.size == 48:
        return pose.reshape(48)
    raise ValueError(f"pose of shape {pose.shape}: expected 48 axis-angle values or 16 x 4 quaternions")


def read(src, hand_data, models=None) -> list[SourceGrasp]:
    import trimesh

    from jhod_core.hand.rigid import rest_wrist

    src = Path(src)
    root = src / "oakink_shape_v2"
    if not root.is_dir() or not (src / "metaV2").is_dir():
        raise JHODError(f"{src} does not look like OakInk-Shape: expected oakink_shape_v2/ and metaV2/ "
                        "(the folder OAKINK_DIR/shape)")
    meta = {}
    for name, folder in (("object_id.json", "OakInkObjectsV2"), ("virtual_object_id.json", "OakInkVirtualObjectsV2")):
        if (src / "metaV2" / name).is_file():
            for oid, entry in json.loads((src / "metaV2" / name).read_text()).items():
                meta[oid] = (folder, entry["name"])
    data = hand_data("right")
    centres, out = {}, []
    for path in sorted(root.glob("*/*/*/hand_param.pkl")) + sorted(root.glob("*/*/*/*/hand_param.pkl")):
        parts = path.relative_to(root).parts
        virtual = len(parts) == 5
        object_id = parts[3] if virtual else parts[1]
        if object_id not in meta:
            raise JHODError(f"{path}: object {object_id} is not in metaV2's object lists")
        folder, name = meta[object_id]
        meshes = sorted((src / folder / name / "align").glob("*.obj")) + \
            sorted((src / folder / name / "align").glob("*.ply"))
        if len(meshes) > 1:
            meshes = [m for m in meshes if "align" in m.name] or meshes[:1]
        if not meshes:
            raise JHODError(f"{path}: no aligned mesh in {src / folder / name / 'align'}")
        if meshes[0] not in centres:
            mesh = trimesh.load(meshes[0], force="mesh", process=False)
            centres[meshes[0]] = (mesh.vertices.min(0) + mesh.vertices.max(0)) / 2
        param = safe_pickle_load(path)
        try:
            pose, betas = _axis_angle(param["pose"]), np.asarray(param["shape"], np.float64).reshape(10)
            wrist = np.asarray(param["tsl"], np.float64).reshape(3)
        except (KeyError, TypeError, ValueError) as exc:
            raise JHODError(f"{path}: not OakInk's hand_param layout ({type(exc).__name__}: {exc})") from None
        out.append(SourceGrasp(
            dataset=NAME, object_name=f"{name}", object_mesh=meshes[0], side="right", global_orient=pose[:3],
            hand_pose=pose[3:], transl=wrist - rest_wrist(data, betas), betas=betas,
            object_rotation=np.eye(3), object_translation=-centres[meshes[0]], sequence="/".join(parts[:-1]),
            extra={"virtual": virtual}))
    if not out:
        raise JHODError(f"{root} holds no hand_param.pkl")
    return out
