"""DexYCB (Chao et al., CVPR 2021; https://dex-ycb.github.io, licence CC BY-NC 4.0; YCB models CC BY 4.0).

Layout read (as the NVlabs dex-ycb-toolkit reads it; ``SRC`` is the folder ``DEX_YCB_DIR`` points to):

    SRC/<subject>/<sequence>/meta.yml                    num_frames, ycb_ids, ycb_grasp_ind, mano_sides, mano_calib
    SRC/<subject>/<sequence>/<camera serial>/labels_NNNNNN.npz   pose_y (objects, 3, 4), pose_m (1, 51)
    SRC/calibration/mano_<calib>/mano.yml                betas (10)
    SRC/models/<ycb class>/textured_simple.obj           object meshes, metres

``pose_m`` = 3 global rotation + 45 PCA coefficients (manopth, ``use_pca=True``, ``flat_hand_mean=False``) + 3
translation (metres), in the camera's frame; ``pose_y[k]`` is object k's camera-from-object [R | t]. The grasp of a
sequence is its last frame (the object lifted and held: the toolkit's grasp-evaluation target), seen from the first
camera folder with labels (any camera gives the same hand in the object's frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jhod_core.errors import JHODError

from .common import SourceGrasp, pca_to_axis_angle

NAME = "dexycb"
LICENCE = "DexYCB: CC BY-NC 4.0 (https://dex-ycb.github.io); YCB object models: CC BY 4.0"
YCB_CLASSES = {1: "002_master_chef_can", 2: "003_cracker_box", 3: "004_sugar_box", 4: "005_tomato_soup_can",
               5: "006_mustard_bottle", 6: "007_tuna_fish_can", 7: "008_pudding_box", 8: "009_gelatin_box",
               9: "010_potted_meat_can", 10: "011_banana", 11: "019_pitcher_base", 12: "021_bleach_cleanser",
               13: "024_bowl", 14: "025_mug", 15: "035_power_drill", 16: "036_wood_block", 17: "037_scissors",
               18: "040_large_marker", 19: "051_large_clamp", 20: "052_extra_large_clamp", 21: "061_foam_brick"}


def _yaml(path: Path) -> dict:
    import yaml

    with open(path) as fh:
        return yaml.safe_load(fh)


def sequences(src: Path) -> list[Path]:
    """Sequence folders (those with a meta.yml), in a stable order; JHODError when the layout is not DexYCB's."""
    if not (src / "calibration").is_dir():
        raise JHODError(f"{src} does not look like DexYCB: expected calibration/ next to the subject folders (the "
                        "folder DEX_YCB_DIR points to)")
    found = sorted(p.parent for p in src.glob("*/*/meta.yml"))
    if not found:
        raise JHODError(f"{src} has no <subject>/<sequence>/meta.yml: not the DexYCB layout")
    return found


def read(src, hand_data, models=None) -> list[SourceGrasp]:
    """One SourceGrasp per sequence. ``hand_data(side)`` gives the MANO model of a side (its PCA components);
    ``models``: where ``models/`` is, if not in SRC."""
    src = Path(src)
    models = Path(models) if models is not None else src
    out = []
    for seq in sequences(src):
        meta = _yaml(seq / "meta.yml")
        try:
            side = meta["mano_sides"][0]
            betas = np.asarray(_yaml(src / "calibration" / f"mano_{meta['mano_calib'][0]}" / "mano.yml")["betas"],
                               dtype=np.float64)
            ycb = meta["ycb_ids"][meta["ycb_grasp_ind"]]
            frame = int(meta["num_frames"]) - 1
        except (KeyError, IndexError, TypeError, OSError) as exc:
            raise JHODError(f"{seq / 'meta.yml'}: not DexYCB's meta layout ({type(exc).__name__}: {exc})") from None
        labels = sorted(seq.glob(f"*/labels_{frame:06d}.npz"))
        if not labels:
            raise JHODError(f"{seq}: no camera folder has labels_{frame:06d}.npz (the last frame)")
        with np.load(labels[0], allow_pickle=False) as z:
            pose_m, pose_y = np.asarray(z["pose_m"], np.float64).reshape(-1), np.asarray(z["pose_y"], np.float64)
        if pose_m.shape != (51,) or not np.any(pose_m):
            continue  # no hand in that frame
        name = YCB_CLASSES.get(int(ycb))
        mesh = models / "models" / str(name) / "textured_simple.obj"
        if name is None or not mesh.is_file():
            raise JHODError(f"{seq}: object {ycb} has no mesh {mesh}")
        data = hand_data(side)
        out.append(SourceGrasp(
            dataset=NAME, object_name=name, object_mesh=mesh, side=side, global_orient=pose_m[:3],
            hand_pose=pca_to_axis_angle(pose_m[3:48], data, flat_hand_mean=False), transl=pose_m[48:51],
            betas=betas, object_rotation=pose_y[meta["ycb_grasp_ind"], :, :3],
            object_translation=pose_y[meta["ycb_grasp_ind"], :, 3], sequence=str(seq.relative_to(src)),
            frame=frame))
    return out
