"""HO-3D v2/v3 (Hampali et al., CVPR 2020; https://github.com/shreyashampali/ho3d; research licence, see its site).

Layout read (as the dataset's own ``vis_HO3D.py`` reads it; ``SRC`` is where ``train/`` branches off, the YCB models
come separately: ``--models`` is where ``models/`` branches off):

    SRC/train/<sequence>/meta/<frame>.pkl      handPose (48: global + 45, axis-angle, flat_hand_mean=True),
                                               handTrans (3), handBeta (10), objRot (3, 1 Rodrigues), objTrans (3),
                                               objName (e.g. 006_mustard_bottle); objRot is None without labels
    MODELS/models/<objName>/textured_simple.obj

Hand and object share the camera's frame. Right hands only. Grasp frames: every ``STRIDE``-th labelled frame of a
sequence in which at least three digits touch the object (within 5 mm, the contact threshold of the metrics), as
grasp-synthesis papers keep frames in stable contact. The meta files are pickles of plain arrays: they are read
with an unpickler that accepts NumPy arrays and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jhod_core.errors import JHODError

from .common import SourceGrasp, safe_pickle_load

NAME = "ho3d"
LICENCE = "HO-3D: research use per its terms (https://github.com/shreyashampali/ho3d); YCB object models: CC BY 4.0"
STRIDE = 10
CONTACT_M = 0.005
MIN_DIGITS = 3


def read(src, hand_data, models=None) -> list[SourceGrasp]:
    from jhod_core.geometry.inside import signed_distance
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import numpy_forward
    from jhod_core.hand.numpy_forward import rodrigues
    from jhod_core.hand.regions import finger_vertex_ids

    src = Path(src)
    metas = sorted((src / "train").glob("*/meta/*.pkl"))
    if not (src / "train").is_dir() or not metas:
        raise JHODError(f"{src} does not look like HO-3D: expected train/<sequence>/meta/<frame>.pkl")
    models = Path(models) if models is not None else src
    if not (models / "models").is_dir():
        raise JHODError(f"no YCB models/ folder in {models}: give --models (where models/ branches off)")
    data = hand_data("right")
    digits = finger_vertex_ids(data)
    meshes, out = {}, []
    by_sequence = {}
    for meta in metas:
        by_sequence.setdefault(meta.parent.parent.name, []).append(meta)
    for sequence, files in sorted(by_sequence.items()):
        for meta in files[::STRIDE]:
            anno = safe_pickle_load(meta)
            if not isinstance(anno, dict) or "handPose" not in anno:
                raise JHODError(f"{meta}: not an HO-3D annotation (no handPose)")
            if anno.get("objRot") is None or anno.get("handPose") is None:
                continue  # an unlabelled frame
            pose = np.asarray(anno["handPose"], np.float64).reshape(48)
            trans = np.asarray(anno["handTrans"], np.float64).reshape(3)
            betas = np.asarray(anno["handBeta"], np.float64).reshape(10)
            rotation = rodrigues(np.asarray(anno["objRot"], np.float64).reshape(1, 3))[0]
            translation = np.asarray(anno["objTrans"], np.float64).reshape(3)
            name = str(anno["objName"])
            mesh_file = models / "models" / name / "textured_simple.obj"
            if name not in meshes:
                if not mesh_file.is_file():
                    raise JHODError(f"{meta}: object {name} has no mesh {mesh_file}")
                meshes[name] = load_mesh(mesh_file)
            hand, _, _ = numpy_forward(data, pose[None, :3], pose[None, 3:], trans[None], betas=betas[None])
            in_object = (hand[0] - translation) @ rotation  # camera -> object frame
            sd = signed_distance(meshes[name], in_object)
            if sum(bool((sd[ids] <= CONTACT_M).any()) for ids in digits.values()) < MIN_DIGITS:
                continue
            out.append(SourceGrasp(dataset=NAME, object_name=name, object_mesh=mesh_file, side="right",
                                   global_orient=pose[:3], hand_pose=pose[3:], transl=trans, betas=betas,
                                   object_rotation=rotation, object_translation=translation, sequence=sequence,
                                   frame=int(meta.stem)))
    return out
