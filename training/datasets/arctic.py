"""ARCTIC (Fan et al., CVPR 2023; https://arctic.is.tue.mpg.de; non-commercial research licence).

Layout read (as the dataset's own ``src/arctic/preprocess_dataset.py`` and ``common/object_tensors.py`` read it;
``SRC`` is ``arctic_data/data``):

    SRC/raw_seqs/s<NN>/<object>_<action>_<k>.mano.npy     a dict (object array, read arrays-only): right / left ->
        rot (T, 3), pose (T, 45) axis-angle with flat_hand_mean=False, trans (T, 3) metres, shape (10,), world frame
    SRC/raw_seqs/s<NN>/<object>_<action>_<k>.object.npy   (T, 7): articulation angle (rad), rotation (axis-angle),
        translation (mm), world frame
    SRC/meta/object_vtemplates/<object>/mesh.obj, parts.json   the object in mm; per vertex, True on the top part

Objects are articulated: the top part turns about the object's -z axis by the angle, then the whole object is
rotated and moved. A grasp keeps the object as posed then, the angle rounded to ``ANGLE_STEP_DEG`` (one corpus
object per object and angle). Grasp frames: every ``STRIDE``-th frame in which at least three digits of that hand
are within 5 mm of the object.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jhod_core.errors import JHODError

from .common import SourceGrasp, safe_npy_load

NAME = "arctic"
LICENCE = "ARCTIC: non-commercial scientific research (https://arctic.is.tue.mpg.de)"
STRIDE = 30
ANGLE_STEP_DEG = 1.0
CONTACT_M = 0.005
MIN_DIGITS = 3


def articulated(vertices_mm: np.ndarray, faces: np.ndarray, top: np.ndarray, angle: float):
    """The object at articulation ``angle`` (radians), metres, in its own frame: the top part turned about -z."""
    import trimesh

    from jhod_core.hand.numpy_forward import rodrigues

    v = np.asarray(vertices_mm, np.float64) / 1000.0
    turn = rodrigues(np.array([[0.0, 0.0, -angle]]))[0]
    v = np.where(top[:, None], v @ turn.T, v)
    return trimesh.Trimesh(v, faces, process=False)


def read(src, hand_data, models=None) -> list[SourceGrasp]:
    import trimesh

    from jhod_core.geometry.inside import signed_distance
    from jhod_core.hand import numpy_forward
    from jhod_core.hand.numpy_forward import rodrigues
    from jhod_core.hand.regions import finger_vertex_ids

    src = Path(src)
    sequences = sorted((src / "raw_seqs").glob("s*/*.mano.npy"))
    if not sequences:
        raise JHODError(f"{src} does not look like ARCTIC: expected raw_seqs/s<NN>/<sequence>.mano.npy "
                        "(the folder arctic_data/data)")
    templates, out = {}, []
    for path in sequences:
        name = path.name.split("_")[0]
        object_file = path.with_name(path.name.replace(".mano.npy", ".object.npy"))
        folder = src / "meta" / "object_vtemplates" / name
        if not object_file.is_file() or not (folder / "mesh.obj").is_file() or not (folder / "parts.json").is_file():
            raise JHODError(f"{path}: needs {object_file.name} and meta/object_vtemplates/{name}/mesh.obj, parts.json")
        if name not in templates:
            mesh = trimesh.load(folder / "mesh.obj", force="mesh", process=False)
            top = np.asarray(json.loads((folder / "parts.json").read_text()), dtype=bool)
            if len(top) != len(mesh.vertices):
                raise JHODError(f"{folder / 'parts.json'}: {len(top)} part labels for {len(mesh.vertices)} vertices")
            templates[name] = (np.asarray(mesh.vertices), np.asarray(mesh.faces), top)
        mano = safe_npy_load(path)
        pose7 = np.asarray(safe_npy_load(object_file), np.float64)
        if not isinstance(mano, dict) or pose7.ndim != 2 or pose7.shape[1] != 7:
            raise JHODError(f"{path}: not ARCTIC's MANO dict and (frames, 7) object poses")
        for side in ("right", "left"):
            if side not in mano:
                continue
            data = hand_data(side)
            digits = finger_vertex_ids(data)
            hand = mano[side]
            try:
                rot, pose, trans = (np.asarray(hand[k], np.float64) for k in ("rot", "pose", "trans"))
                betas = np.asarray(hand["shape"], np.float64).reshape(-1)[:10]
            except (KeyError, TypeError) as exc:
                raise JHODError(f"{path}: not ARCTIC's MANO layout ({type(exc).__name__}: {exc})") from None
            for t in range(0, min(len(rot), len(pose7)), STRIDE):
                angle = np.radians(round(np.degrees(pose7[t, 0]) / ANGLE_STEP_DEG) * ANGLE_STEP_DEG)
                mesh = articulated(*templates[name], angle)
                rotation = rodrigues(pose7[t, 1:4][None])[0]
                translation = pose7[t, 4:] / 1000.0
                hp = pose[t] + data.hands_mean  # flat_hand_mean=False: MANO adds the mean pose
                verts, _, _ = numpy_forward(data, rot[t][None], hp[None], trans[t][None], betas=betas[None])
                sd = signed_distance(mesh, (verts[0] - translation) @ rotation)
                if sum(bool((sd[ids] <= CONTACT_M).any()) for ids in digits.values()) < MIN_DIGITS:
                    continue
                degrees = int(round(np.degrees(angle)))
                out.append(SourceGrasp(
                    dataset=NAME, object_name=f"{name}_a{degrees:+04d}", object_mesh=folder / "mesh.obj",
                    side=side, global_orient=rot[t], hand_pose=hp, transl=trans[t], betas=betas,
                    object_rotation=rotation, object_translation=translation, sequence=str(path.relative_to(src)),
                    frame=t, mesh=mesh))
    return out
