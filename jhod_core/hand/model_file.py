"""Hand model files: the smplx MANO file contract, loading, validation and left/right mirroring.

A hand file is MANO's: `v_template (V,3)`, `shapedirs (V,3,L)`, `posedirs (V,3,135)`,
`J_regressor (16,V)`, `weights (V,16)`, `kintree_table (2,16)`, `f (F,3)`, `hands_components (45,45)`,
`hands_mean (45,)`. Our open hand adds `tip_vertex_ids (5,)` (thumb, index, middle, ring, pinky).

Which hand is used, first match wins:
1. an explicit path (a `.npz`/`.pkl` file, or a folder holding `MANO_RIGHT.*` / `MANO_LEFT.*`);
2. the folder in the environment variable `JHOD_MANO_DIR` (a real MANO download);
3. the open hand shipped in `jhod_core/assets/OPENHAND_RIGHT.npz` (left = mirrored right).

Mirroring rule (right -> left): reflect x, i.e. M = diag(-1, 1, 1). Vertices and joints become
M v; faces flip winding; an axis-angle (ax, ay, az) becomes (ax, -ay, -az) (rotation M R M), which
applies to `hands_mean` and the PCA rows; shape offsets reflect like vertices; pose correctives
follow from M R M - I = M (R - I) M. Real MANO_LEFT files are loaded as they are, with their known
`shapedirs` x-sign bug fixed (vchoutas/smplx#48).

NumPy only (no torch, no smplx): Blender imports this.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import HandModelError
from ..file_version import BoundedCache, file_version
from .topology import MANO_CLOSING_FACES, MANO_TIP_VERTEX_IDS, NUM_JOINTS, PARENTS

ASSETS = Path(__file__).resolve().parents[1] / "assets"
OPEN_HAND_FILE = ASSETS / "OPENHAND_RIGHT.npz"
ENV_VAR = "JHOD_MANO_DIR"
CONTRACT_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f",
                 "hands_components", "hands_mean")
MIRROR = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class HandData:
    """Everything a forward pass needs, as float64/int64 NumPy arrays (metres)."""

    v_template: np.ndarray      # (V, 3)
    shapedirs: np.ndarray       # (V, 3, L)
    posedirs: np.ndarray        # (V, 3, 135)
    J_regressor: np.ndarray     # (16, V)
    weights: np.ndarray         # (V, 16)
    parents: np.ndarray         # (16,)
    faces: np.ndarray           # (F, 3) as in the file
    closed_faces: np.ndarray    # (F', 3) watertight (wrist closed)
    hands_components: np.ndarray  # (45, 45)
    hands_mean: np.ndarray      # (45,)
    tip_vertex_ids: np.ndarray  # (5,) thumb, index, middle, ring, pinky
    side: str                   # "right" | "left"
    source: str                 # file it came from
    is_open_hand: bool          # True for our CC0 hand, False for a real MANO file

    @property
    def num_vertices(self) -> int:
        return len(self.v_template)

    @property
    def rest_joints(self) -> np.ndarray:
        return self.J_regressor @ self.v_template

    def as_mano_arrays(self) -> dict:
        """The 9 contract arrays (what `smplx.MANO(data_struct=Struct(**arrays))` reads)."""
        kintree = np.stack([self.parents % (2 ** 32), np.arange(NUM_JOINTS)]).astype(np.int64)
        return {"v_template": self.v_template, "shapedirs": self.shapedirs, "posedirs": self.posedirs,
                "J_regressor": self.J_regressor, "weights": self.weights, "kintree_table": kintree,
                "f": self.faces, "hands_components": self.hands_components, "hands_mean": self.hands_mean}


def resolve_hand_path(path: str | os.PathLike | None, side: str) -> Path:
    """The file to load for `side`, following the order in the module docstring."""
    if side not in ("right", "left"):
        raise HandModelError(f"side must be 'right' or 'left', got {side!r}")
    if path is None and os.environ.get(ENV_VAR):
        path = os.environ[ENV_VAR]
        origin = f"${ENV_VAR}"
    else:
        origin = "the given path"
    if path is None:
        return OPEN_HAND_FILE
    p = Path(path).expanduser()
    if p.is_dir():
        names = [f"MANO_{side.upper()}.pkl", f"MANO_{side.upper()}.npz"]
        for name in names:
            if (p / name).is_file():
                return p / name
        if side == "left":
            for name in ("MANO_RIGHT.pkl", "MANO_RIGHT.npz"):
                if (p / name).is_file():
                    return p / name  # the left hand is then mirrored from the right one
        raise HandModelError(
            f"no {' or '.join(names)} in {p} ({origin}). Download MANO from https://mano.is.tue.mpg.de "
            f"(free registration, non-commercial licence) and point to the folder holding MANO_RIGHT.pkl, "
            f"or unset {ENV_VAR} to use the built-in open hand.")
    if not p.is_file():
        raise HandModelError(f"hand model file not found: {p} ({origin}). Give a MANO_RIGHT.pkl/.npz file or "
                             f"the folder holding it, or leave it empty to use the built-in open hand.")
    return p


def _read_arrays(path: Path) -> dict:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            # Our files hold plain arrays only; refuse pickled objects inside an npz.
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if suffix == ".pkl":
            with open(path, "rb") as fh:
                raw = pickle.load(fh, encoding="latin1")
            if not isinstance(raw, dict):
                raise HandModelError(f"{path} does not hold a MANO dictionary (found {type(raw).__name__})")
            return {k: _to_numpy(v) for k, v in raw.items() if k in CONTRACT_KEYS + ("tip_vertex_ids",)}
    except HandModelError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("chumpy"):
            raise HandModelError(f"{path} stores chumpy arrays (the original MANO release); install chumpy "
                                 f"with: pip install chumpy") from None
        raise HandModelError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # corrupt zip, truncated pickle, wrong format...
        raise HandModelError(f"cannot read hand model {path}: {type(exc).__name__}: {exc}") from None
    raise HandModelError(f"unsupported hand model file {path}: expected .npz or .pkl")


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "toarray"):  # scipy.sparse J_regressor
        value = value.toarray()
    if hasattr(value, "r"):  # chumpy array
        value = value.r
    return np.asarray(value)


def validate_arrays(arrays: dict, source: str) -> None:
    """Raise HandModelError naming the first broken part of the contract."""
    missing = [k for k in CONTRACT_KEYS if k not in arrays]
    if missing:
        raise HandModelError(f"{source} is not a MANO-format hand: missing {', '.join(missing)}")
    v = arrays["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 16:
        raise HandModelError(f"{source}: v_template must be (V, 3), got {v.shape}")
    n = len(v)
    expect = {"shapedirs": (n, 3), "posedirs": (n, 3, 135), "J_regressor": (NUM_JOINTS, n),
              "weights": (n, NUM_JOINTS), "kintree_table": (2, NUM_JOINTS), "hands_components": (45, 45),
              "hands_mean": (45,)}
    for key, shape in expect.items():
        if arrays[key].shape[: len(shape)] != shape:
            raise HandModelError(f"{source}: {key} must have shape {shape}..., got {arrays[key].shape}")
    f = arrays["f"]
    if f.ndim != 2 or f.shape[1] != 3 or f.min() < 0 or f.max() >= n:
        raise HandModelError(f"{source}: faces f must be (F, 3) indices below {n}")
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        if not np.all(np.isfinite(arrays[key])):
            raise HandModelError(f"{source}: {key} contains NaN or inf")
    if not np.allclose(arrays["weights"].sum(1), 1.0, atol=1e-3):
        raise HandModelError(f"{source}: skinning weights rows must sum to 1")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    if not np.array_equal(parents, PARENTS):
        raise HandModelError(f"{source}: joint tree {parents.tolist()} is not MANO's {PARENTS.tolist()}")


def mirror_to_left(data: HandData) -> HandData:
    """The left hand of a right-hand model (rule in the module docstring)."""
    posedirs = data.posedirs.reshape(len(data.posedirs), 3, 15, 3, 3)
    posedirs = posedirs * MIRROR[None, :, None, None, None] * MIRROR[None, None, None, :, None] \
        * MIRROR[None, None, None, None, :]
    flip_aa = np.tile([1.0, -1.0, -1.0], 15)
    return replace(
        data,
        v_template=data.v_template * MIRROR,
        shapedirs=data.shapedirs * MIRROR[None, :, None],
        posedirs=posedirs.reshape(data.posedirs.shape),
        faces=data.faces[:, ::-1].copy(),
        closed_faces=data.closed_faces[:, ::-1].copy(),
        hands_components=data.hands_components * flip_aa[None, :],
        hands_mean=data.hands_mean * flip_aa,
        side="left",
    )


def mirror_grasp(global_orient, hand_pose, transl) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MANO parameters of the mirror image (x -> -x) of a posed hand, for the other side's model.

    With ``mirror_to_left``'s rule the left hand with these parameters is exactly the mirrored right
    hand (and vice versa): every rotation vector (ax, ay, az) becomes (ax, -ay, -az), transl (tx, ty, tz)
    becomes (-tx, ty, tz). For a real MANO_LEFT file (not an exact mirror) it is close, not exact.
    """
    flip = np.array([1.0, -1.0, -1.0])
    return (np.asarray(global_orient, dtype=np.float64) * flip,
            np.asarray(hand_pose, dtype=np.float64) * np.tile(flip, 15),
            np.asarray(transl, dtype=np.float64) * MIRROR)


_LOADED = BoundedCache(size=4)  # right and left of the open hand and of a user's MANO


def load_hand_data(path: str | os.PathLike | None = None, side: str = "right") -> HandData:
    """Load and validate a hand model (see the module docstring for which file is used).

    Loaded once per file version (path, size, modification time) and shared: its arrays are read-only.
    """
    file = resolve_hand_path(path, side)

    def load():
        data = _load_hand_data(file, side)
        for value in vars(data).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        return data
    return _LOADED.get((file_version(file), side), load)


def _load_hand_data(file: Path, side: str) -> HandData:
    arrays = _read_arrays(file)
    validate_arrays(arrays, str(file))
    file_side = "left" if "LEFT" in file.name.upper() else "right"
    is_open = "tip_vertex_ids" in arrays
    faces = arrays["f"].astype(np.int64)
    shapedirs = arrays["shapedirs"].astype(np.float64)
    if is_open:
        tips = arrays["tip_vertex_ids"].astype(np.int64)
        closed = faces  # the open hand is already watertight
    else:
        if len(arrays["v_template"]) != 778:
            raise HandModelError(f"{file}: a MANO file without tip_vertex_ids must have 778 vertices")
        tips = MANO_TIP_VERTEX_IDS.copy()
        closing = MANO_CLOSING_FACES if file_side == "right" else MANO_CLOSING_FACES[:, ::-1]
        closed = np.vstack([faces, closing])
        if file_side == "left":
            tips[2] = 445  # MANO_LEFT's middle tip (manopth convention)
            shapedirs = shapedirs.copy()
            shapedirs[:, 0, :] *= -1  # known sign bug of MANO_LEFT (vchoutas/smplx#48)
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    data = HandData(
        v_template=arrays["v_template"].astype(np.float64),
        shapedirs=shapedirs,
        posedirs=arrays["posedirs"].astype(np.float64),
        J_regressor=np.asarray(arrays["J_regressor"], dtype=np.float64),
        weights=arrays["weights"].astype(np.float64),
        parents=parents,
        faces=faces,
        closed_faces=closed,
        hands_components=arrays["hands_components"].astype(np.float64),
        hands_mean=arrays["hands_mean"].astype(np.float64).ravel(),
        tip_vertex_ids=tips,
        side=file_side,
        source=str(file),
        is_open_hand=is_open,
    )
    if side != file_side:
        if file_side != "right":
            raise HandModelError(f"{file} is a left hand; cannot mirror it to a {side} hand")
        data = mirror_to_left(data)
    return data
