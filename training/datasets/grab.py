"""GRAB (Taheri et al., ECCV 2020; https://grab.is.tue.mpg.de; non-commercial research licence; object meshes from
ContactDB).

Layout read (as the dataset's own ``grab/grab_preprocessing.py`` reads it; ``SRC`` is the extracted ``GRAB`` folder):

    SRC/grab/s<N>/<object>_<action>_<k>.npz   one sequence: dicts in object arrays (read arrays-only, no code):
        rhand / lhand: params {global_orient (T, 3), fullpose (T, 45) axis-angle, flat_hand_mean=True, transl (T, 3)},
                       vtemp: the subject's personal hand template (a .ply of 778 vertices, relative to SRC)
        object: params {global_orient (T, 3), transl (T, 3)}, object_mesh (relative to SRC);
                world = mesh_vertices @ rodrigues(global_orient) + transl (row vectors, as GRAB's ObjectModel)
        contact: object (T, object vertices): 0 none, else the body part touching (22 = right hand, 41-55 right
                 fingers; 21 and 26-40 left)

Grasp frames: every ``STRIDE``-th frame (120 fps) in which the side's hand touches the object with at least
``MIN_PARTS`` distinct hand parts in GRAB's own contact labels. The subject's hand template becomes ``betas`` by least
squares (GRAB's templates are personal meshes, close to but not exactly in MANO's shape space; the largest vertex
residual is kept with the grasp as ``extra['template_residual_m']``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jhod_core.errors import JHODError

from .common import SourceGrasp, betas_from_template, safe_npz_load

NAME = "grab"
LICENCE = "GRAB: non-commercial scientific research (https://grab.is.tue.mpg.de); object meshes: ContactDB"
STRIDE = 30
MIN_PARTS = 3
HAND_PARTS = {"right": {22, *range(41, 56)}, "left": {21, *range(26, 41)}}


def read(src, hand_data, models=None) -> list[SourceGrasp]:
    import trimesh

    from jhod_core.hand.numpy_forward import rodrigues

    src = Path(src)
    sequences = sorted((src / "grab").glob("s*/*.npz"))
    if not sequences:
        raise JHODError(f"{src} does not look like GRAB: expected grab/s<N>/<object>_<action>_<k>.npz")
    templates, out = {}, []
    for path in sequences:
        seq = safe_npz_load(path)
        try:
            obj, contact = seq["object"], np.asarray(seq["contact"]["object"])
            mesh_file = src / str(obj["object_mesh"])
            name = str(seq.get("obj_name", path.stem.split("_")[0]))
        except (KeyError, TypeError) as exc:
            raise JHODError(f"{path}: not GRAB's sequence layout ({type(exc).__name__}: {exc})") from None
        if not mesh_file.is_file():
            raise JHODError(f"{path}: the object mesh {mesh_file} is missing")
        for side, key in (("right", "rhand"), ("left", "lhand")):
            if key not in seq:
                continue
            hand = seq[key]
            params = hand["params"]
            parts = [set(np.unique(row)) & HAND_PARTS[side] for row in contact]
            frames = [t for t, p in enumerate(parts) if len(p) >= MIN_PARTS][::STRIDE]
            if not frames:
                continue
            template = src / str(hand["vtemp"])
            if (template, side) not in templates:
                if not template.is_file():
                    raise JHODError(f"{path}: the hand template {template} is missing")
                vertices = trimesh.load(template, force="mesh", process=False).vertices
                templates[(template, side)] = betas_from_template(hand_data(side), vertices)
            betas, residual = templates[(template, side)]
            for t in frames:
                r = rodrigues(np.asarray(obj["params"]["global_orient"][t], np.float64).reshape(1, 3))[0]
                out.append(SourceGrasp(
                    dataset=NAME, object_name=name, object_mesh=mesh_file, side=side,
                    global_orient=np.asarray(params["global_orient"][t], np.float64),
                    hand_pose=np.asarray(params["fullpose"][t], np.float64),
                    transl=np.asarray(params["transl"][t], np.float64), betas=betas,
                    object_rotation=r.T,  # world = v @ R + t  <=>  world = R^T v + t
                    object_translation=np.asarray(obj["params"]["transl"][t], np.float64),
                    sequence=str(path.relative_to(src)), frame=t, extra={"template_residual_m": residual}))
    return out
