"""What every dataset adapter shares: the source record, MANO conventions, and writing our shards and corpus.

Conventions handled here, once:

* PCA poses: ``hand_pose = pca @ hands_components[:k]``; a dataset fitted with ``flat_hand_mean=False`` (MANO's
  default, manopth, DexYCB) adds ``hands_mean``; our shards store the 45 axis-angle values of the flat-hand
  convention (zeros = flat hand), so ``hands_mean`` is folded in.
* Shape: the subject's ``betas`` are kept (shard key ``betas``), so the hand is the dataset's hand.
* Frames: hands are moved into the object's frame (``rigid.transform_params`` about the shaped wrist), then into
  the corpus's bounding-box-centred frame.
* Left hands become right hands holding the mirrored object (x -> -x): rotation vectors (ax, ay, az) ->
  (ax, -ay, -az) and the wrist placed where the mirrored left wrist was, with each side's shaped wrist joint. With
  MANO_LEFT's shape-direction sign fixed on loading (``hand.model_file``, smplx issue #48) the mirrored left hand
  is the right hand with the same betas.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from jhod_core.errors import JHODError
from jhod_core.hand.model_file import MIRROR, mirror_grasp
from jhod_core.hand.rigid import rest_wrist, transform_params


@dataclass
class SourceGrasp:
    """One grasp as a dataset stores it: MANO parameters of ``side``'s model in some frame, and the grasped object's
    pose in that same frame (x_frame = object_rotation @ x_object + object_translation)."""

    dataset: str
    object_name: str
    object_mesh: Path
    side: str
    global_orient: np.ndarray      # (3,)
    hand_pose: np.ndarray          # (45,) axis-angle, flat-hand convention (hands_mean folded in already)
    transl: np.ndarray             # (3,)
    betas: np.ndarray              # (10,)
    object_rotation: np.ndarray    # (3, 3)
    object_translation: np.ndarray  # (3,)
    sequence: str = ""
    frame: int = -1
    extra: dict = field(default_factory=dict)
    mesh: object = None  # the object's mesh when it is not a file as is (an articulated object's pose)


_PICKLE_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                   ("numpy", "ndarray"), ("numpy", "dtype"), ("copy_reg", "_reconstructor"),
                   ("copyreg", "_reconstructor"), ("__builtin__", "object"), ("builtins", "object"),
                   ("_codecs", "encode")}  # how protocol 2 stores an array's bytes from Python 3


def _restricted_load(fh, path):
    import pickle

    class Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in _PICKLE_ALLOWED:
                return super().find_class(module, name)
            raise JHODError(f"{path}: the pickle holds {module}.{name}, not plain arrays; refusing to load it")

    return Restricted(fh, encoding="latin1").load()


def safe_pickle_load(path):
    """A dataset's annotation pickle (dicts, lists, numbers, strings, NumPy arrays) read with an unpickler that
    refuses every other class: a pickle cannot run code through it."""
    try:
        with open(path, "rb") as fh:
            return _restricted_load(fh, path)
    except JHODError:
        raise
    except Exception as exc:  # noqa: BLE001  truncated or not a pickle
        raise JHODError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _read_npy(fh, path):
    """One .npy stream: plain arrays as NumPy reads them, object arrays through the arrays-only unpickler (a
    one-element object array comes back as its element, like ``np.load(...).item()``)."""
    from numpy.lib import format as npy

    version = npy.read_magic(fh)
    shape, fortran, dtype = npy.read_array_header_1_0(fh) if version == (1, 0) else npy.read_array_header_2_0(fh)
    if dtype.hasobject:
        value = np.asarray(_restricted_load(fh, path), dtype=object)
        return value.item() if value.size == 1 else value
    return np.frombuffer(fh.read(), dtype=dtype).reshape(shape, order="F" if fortran else "C")


def safe_npy_load(path):
    """A .npy file, object arrays included (ARCTIC stores dicts), read without running code."""
    try:
        with open(path, "rb") as fh:
            return _read_npy(fh, path)
    except JHODError:
        raise
    except Exception as exc:  # noqa: BLE001  truncated, not an npy
        raise JHODError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def safe_npz_load(path) -> dict:
    """An npz whose members may be pickled objects (GRAB stores dicts in object arrays), each member read like
    ``safe_npy_load``."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as fh:
                        out[member[:-4]] = _read_npy(fh, path)
            return out
    except JHODError:
        raise
    except Exception as exc:  # noqa: BLE001  not a zip, truncated
        raise JHODError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def betas_from_template(data, v_template: np.ndarray) -> tuple[np.ndarray, float]:
    """(betas (10,), largest vertex residual in metres): the shape coefficients whose shaped hand is closest (least
    squares) to a personalised template mesh of the same topology (GRAB stores subjects' hands as templates)."""
    v_template = np.asarray(v_template, np.float64)
    if v_template.shape != data.v_template.shape:
        raise JHODError(f"a hand template of {len(v_template)} vertices does not fit the MANO model "
                        f"({len(data.v_template)})")
    basis = np.asarray(data.shapedirs, np.float64).reshape(-1, data.shapedirs.shape[-1])
    betas, *_ = np.linalg.lstsq(basis, (v_template - data.v_template).reshape(-1), rcond=None)
    residual = np.linalg.norm((basis @ betas).reshape(-1, 3) - (v_template - data.v_template), axis=1).max()
    return betas[:10], float(residual)


def pca_to_axis_angle(pca: np.ndarray, data, flat_hand_mean: bool) -> np.ndarray:
    """(45,) axis-angle finger pose in the flat-hand convention from ``k`` PCA coefficients of ``data``'s model."""
    pca = np.asarray(pca, dtype=np.float64).reshape(-1)
    pose = pca @ np.asarray(data.hands_components, dtype=np.float64)[:len(pca)]
    return pose if flat_hand_mean else pose + data.hands_mean


def to_object_frame(g: SourceGrasp, data) -> tuple[np.ndarray, np.ndarray]:
    """(global_orient, transl) of the hand in the object's own frame."""
    r, t = np.asarray(g.object_rotation, np.float64), np.asarray(g.object_translation, np.float64)
    go, tr = transform_params(g.global_orient[None], g.transl[None], r.T, -r.T @ t, rest_wrist(data, g.betas))
    return go[0], tr[0]


def mirror_to_right(go, hp, tr, betas, left_data, right_data):
    """A left hand's parameters -> the right hand that is its mirror image (x -> -x)."""
    go_right, hp_right, _ = mirror_grasp(go, hp, tr)  # rotations as the open hand mirrors them
    wrist_left = rest_wrist(left_data, betas) + tr  # each side's own shaped wrist joint places the hand
    return go_right, hp_right, wrist_left * MIRROR - rest_wrist(right_data, betas)


def check_output_folder(out) -> Path:
    """The output folder of a conversion: new or empty (JHODError otherwise, before any work)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise JHODError(f"{out} exists and is not empty: give a new folder for the converted dataset")
    return out


def convert(records, out: str | os.PathLike, mano: str | os.PathLike | None, licence: str, *,
            progress=None) -> dict:
    """Write ``records`` (SourceGrasp) into ``out``: ``grasps/shards/shard_00000.npz`` and ``objects/`` (a corpus).

    ``mano``: the folder (or file) with MANO_RIGHT / MANO_LEFT (.pkl or .npz); None uses JHOD_MANO_DIR or the open
    hand. ``out`` must not exist or be empty; everything is written to a temporary sibling first and moved into
    place at the end, so a failure leaves nothing behind. Returns counts."""
    from jhod_core.hand import load_hand_data, numpy_forward
    from training.data.corpus import ObjectSpec, build_corpus
    from training.data.grasps import save_shard

    out = check_output_folder(out)
    hands = {}

    def hand(side):
        if side not in hands:
            hands[side] = load_hand_data(mano, side)  # a folder with MANO_RIGHT/LEFT, a file, or None
        return hands[side]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        sources, records_out, specs, offsets = tmp / "sources", [], {}, {}
        sources.mkdir()
        for n, g in enumerate(records):
            data = hand(g.side)
            go, tr = to_object_frame(g, data)
            hp, betas = np.asarray(g.hand_pose, np.float64), np.asarray(g.betas, np.float64)
            object_id = f"{g.dataset}_{g.object_name}" + ("_mirrored" if g.side == "left" else "")
            if object_id not in specs:
                mesh = g.mesh.copy() if g.mesh is not None else trimesh.load(g.object_mesh, force="mesh",
                                                                              process=False)
                if g.side == "left":
                    mesh = trimesh.Trimesh(mesh.vertices * MIRROR, mesh.faces[:, ::-1], process=False)
                offsets[object_id] = np.asarray(mesh.bounds, np.float64).mean(axis=0)
                mesh.apply_translation(-offsets[object_id])
                path = sources / f"{object_id}.ply"
                mesh.export(path)
                specs[object_id] = ObjectSpec(object_id, g.dataset, f"{g.dataset}: {g.object_mesh.name} of "
                                              f"{g.object_name}" + (", mirrored" if g.side == "left" else ""),
                                              licence, path=str(path))
            if g.side == "left":  # a right hand holding the mirrored object
                go, hp, tr = mirror_to_right(go, hp, tr, betas, data, hand("right"))
            right = hand("right")
            tr = tr - offsets[object_id]
            _, _, keypoints = numpy_forward(right, go[None], hp[None], tr[None], betas=betas[None])
            records_out.append({"object_id": object_id, "global_orient": go, "hand_pose": hp, "transl": tr,
                                "keypoints": keypoints[0], "kind": "dataset", "digits_in_contact": [],
                                "penetration_depth_cm": np.nan, "intersection_volume_cm3": np.nan,
                                "sim_displacement_6dir_cm": np.nan, "limit_violation_deg": np.nan,
                                "source": g.dataset, "betas": betas})
            if progress is not None:
                progress(n + 1)
        if not records_out:
            raise JHODError("no grasps found in the source folder")
        report = build_corpus(tmp / "objects", list(specs.values()), seed=0, workers=1, progress=False)
        if report.skipped:
            raise JHODError(f"could not build object meshes: {report.skipped}")
        (tmp / "grasps" / "shards").mkdir(parents=True)
        save_shard(tmp / "grasps" / "shards" / "shard_00000.npz", records_out, [], [
            {"object_id": oid, "dataset": specs[oid].family} for oid in specs], seed=0)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"grasps": len(records_out), "objects": len(specs), "out": str(out)}
