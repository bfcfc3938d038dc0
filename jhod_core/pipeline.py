"""The one grasp sampling pipeline of every path: ``jhod sample``, the Python API, the Blender operators, batch.py.

    object: mesh arrays (vertices, faces) or surface points (+ normals), metres, its own frame
      -> 8192 seeded surface samples with normals + the bounding-box centre  (the model's object frame)
      -> seeded 2048-point subset, centred -> object latent          backend.encode
      -> reverse diffusion loop, DDIM or DDPM (``reverse``)            backend.denoise
      -> MANO parameters + centre -> refinement, best of each grasp's candidates (``jhod_core.refine``)
      -> hands (NumPy forward), in the input frame

A backend supplies only the network calls and the model-space statistics (diffusers' scheduler /
pipeline split): ``model.numpy_inference.NumpyBackend`` (Blender: no torch) or
``torch.backend.TorchBackend`` (CPU threads or CUDA). Both read the same ``.npz`` weight files.
Every random number is drawn here with NumPy from the seed, so one seed gives the same grasps on both
(to float tolerance), and grasp ``i`` of seed ``s`` is the same whatever the number asked for: grasps are
chosen in blocks of ``CHOICE_BLOCK``, and block ``b`` draws its candidates' noise from its own stream
``default_rng([s, GRASP_STREAM, b])`` and keeps its best-scored. Grasps are made in batches of
``BATCH_GRASPS`` (memory flat in ``num``).

The generators (``iter_grasps``, ``iter_hand_object``) yield floats (fraction done, 0..1) and dicts (one
finished batch each, in order); ``collect`` runs one to the end and joins the batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import JHODError, MeshError
from .file_version import BoundedCache, file_version
from .geometry.limits import check_object_size, check_thickness
from .geometry.sampling import sample_triangles
from .hand.params import TRANSL, split_params
from .model import hand_state, spec
from .model.spec import DEFAULT_DDIM_STEPS
from .refine import SURFACE_POINTS  # surface samples the refinement measures against

NUM_POINTS = 2048        # points the object autoencoder encodes
MAX_STEPS = 1000
# Candidates per returned grasp: sampling 3 and keeping the best-scored after refinement lowers the simulation
# displacement and penetration (docs/model.md, "Choosing the defaults").
CANDIDATES = 3
MAX_CANDIDATES = 16
# Grasps are chosen in blocks: block b (grasps 4b .. 4b + 3) refines 4 x candidates samples of its own noise stream
# and keeps the 4 best-scored. On validation objects that holds as well as choosing among all samples of a run
# (-y 2.06 vs 2.08 cm at 3 candidates) and better than each grasp choosing among its own (2.39 cm), while grasp i
# stays the same whatever the number asked for (docs/model.md, "Choosing in blocks").
CHOICE_BLOCK = 4
# Classifier-free guidance weight for a model with controls (1: the conditional prediction alone).
GUIDANCE = 1.0
# Guidance on the object itself (1: off): x0(hand | object at t_O = T) + w (x0(hand | object) - x0(hand | object
# at t_O = T)); the model learnt the hand without its object from the rows whose object was fully noised.
OBJECT_GUIDANCE = 1.0
BATCH_GRASPS = 128       # grasps per network batch (x candidates rows): bounds memory for any --num
MIRROR = np.array([-1.0, 1.0, 1.0])  # left hands: right hands sampled on the object mirrored x -> -x
METHODS = ("ddim", "ddpm")
# independent random streams of one seed: np.random.default_rng([seed, STREAM, index])
SURFACE_STREAM, SUBSET_STREAM, GRASP_STREAM, PAIR_STREAM, PAIR_HAND_STREAM = 0, 1, 2, 3, 4
# A jointly sampled pair's hand competes with this many hands in all (itself included) sampled conditionally on
# its generated object (``pair_hands``; docs/model.md, "Joint samples").
PAIR_CANDIDATES = 8

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "assets" / "model"
WEIGHT_FILES = ("autoencoder.npz", "denoiser.npz")
EXPORT_HINT = "write them with `python training/export_weights.py --autoencoder A.pt --denoiser D.pt --out DIR`"


# --------------------------------------------------------------------------- backends

class Backend(Protocol):
    """The network calls of one trained model (arrays in, arrays out)."""

    num_train_steps: int
    sync_timesteps: bool
    rotation: str  # the wrist rotation form of the hand state (``model.hand_state``)
    hand_mean: np.ndarray
    hand_std: np.ndarray
    object_mean: np.ndarray
    object_std: np.ndarray

    def encode(self, points: np.ndarray) -> np.ndarray:
        """Centred surface points (B, N, 3), metres -> raw object latents (B, 512)."""

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Raw object latents (B, 512) -> points (B, 2048, 3), metres."""

    controls: bool  # the denoiser takes a control row (spec.CONTROL_DIM)
    surface: bool   # the denoiser takes surface features (model.surface_features) in conditional sampling
    critic: object  # a critic.Critic that chooses among candidates (critic.npz beside the weights), or None

    def denoise(self, x: np.ndarray, t_hand: np.ndarray, t_object: np.ndarray,
                control: np.ndarray | None = None, hand_only: bool = False,
                surface: np.ndarray | None = None) -> np.ndarray:
        """Model-space state (B, hand + 512) at integer levels (B,), (B,), controls (B, CONTROL_DIM) or None ->
        predicted clean state (B, hand + 512); ``hand_only``: the object part is returned as given, not predicted;
        ``surface``: surface features (B, ``surface_features.DIM``) or None."""


def weights_folder(weights_dir: str | os.PathLike | None = None) -> Path:
    """The weights folder (None: the shipped model), checked to hold ``WEIGHT_FILES``; else one JHODError."""
    folder = Path(weights_dir) if weights_dir not in (None, "") else DEFAULT_WEIGHTS_DIR
    if not folder.is_dir():
        raise JHODError(f"model weights folder not found: {folder} (leave --weights out for the shipped model)")
    missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
    if missing:
        raise JHODError(f"model weights missing: {' and '.join(missing)} not in {folder}; {EXPORT_HINT}")
    return folder


def torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


_BACKENDS = BoundedCache(size=2)


def load_backend(weights_dir: str | os.PathLike | None = None, backend: str = "auto", device: str = "auto") -> Backend:
    """The model in ``weights_dir`` (None: shipped) on a backend, loaded once per file version (bounded cache).

    ``backend``: ``numpy`` (no torch; Blender), ``torch`` (``device`` auto / cpu / cuda), or ``auto``: torch when
    it is installed (its CPU loop is several times faster), else NumPy.
    """
    if backend not in ("auto", "numpy", "torch"):
        raise JHODError(f"backend must be auto, numpy or torch, got {backend!r}")
    if device not in ("auto", "cpu", "cuda"):
        raise JHODError(f"device must be auto, cpu or cuda, got {device!r}")
    if backend == "auto":
        backend = "torch" if torch_available() else "numpy"
    if backend == "numpy" and device == "cuda":
        raise JHODError("--device cuda needs torch (the NumPy backend runs on the CPU)")
    from .critic import FILE as CRITIC_FILE

    folder = weights_folder(weights_dir)
    paths = [folder / name for name in WEIGHT_FILES]
    critic = folder / CRITIC_FILE  # in the key too: a critic added, replaced or removed beside the same weights
    paths_key = file_version(*paths, *([critic] if critic.is_file() else []))
    if backend == "numpy":
        from .model.numpy_inference import NumpyBackend as cls

        def load():
            return cls(*paths)
        key = (paths_key, "numpy")
    else:
        from .torch.backend import TorchBackend as cls, resolve_device

        device = resolve_device(device)

        def load():
            return cls.from_files(*paths, device=device)
        key = (paths_key, "torch", device)

    def checked_load():
        from .critic import load_critic

        try:
            backend = load()
            backend.critic = load_critic(folder)
            return backend
        except JHODError:
            raise
        except Exception as exc:  # zip / key / shape errors all mean "not a usable weights file"
            raise JHODError(f"model weights in {folder} are corrupt or not written by the training scripts "
                            f"({type(exc).__name__}); {EXPORT_HINT}") from None
    return _BACKENDS.get(key, checked_load)


# --------------------------------------------------------------------------- checks

def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_counts(num: int, steps: int, seed: int = 0, first: int = 0) -> None:
    """``num`` >= 1 samples, ``steps`` in 1..1000 reverse steps, ``seed`` and ``first`` >= 0, else ``JHODError``."""
    if not _is_int(num) or num < 1:
        raise JHODError(f"--num must be a positive integer (number of grasps), got {num!r}")
    if not _is_int(steps) or not 1 <= steps <= MAX_STEPS:
        raise JHODError(f"--steps must be an integer in 1..{MAX_STEPS} (reverse diffusion steps), got {steps!r}")
    if not _is_int(seed) or seed < 0:
        raise JHODError(f"--seed must be a non-negative integer, got {seed!r}")
    if not _is_int(first) or first < 0:
        raise JHODError(f"the first grasp index must be a non-negative integer, got {first!r}")


def check_options(side: str = "right", candidates: int = CANDIDATES, method: str = "ddim") -> None:
    if side not in ("right", "left"):
        raise JHODError(f"side must be 'right' or 'left', got {side!r}")
    if not _is_int(candidates) or not 1 <= candidates <= MAX_CANDIDATES:
        raise JHODError(f"candidates per grasp must be an integer in 1..{MAX_CANDIDATES}, got {candidates!r}")
    if method not in METHODS:
        raise JHODError(f"method must be 'ddim' or 'ddpm', got {method!r}")


def _finite_array(values, what: str, columns: int, dtype=np.float64) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise MeshError(f"{what} are not a numeric (N, {columns}) array") from None
    if array.ndim != 2 or array.shape[1] != columns:
        raise MeshError(f"{what} must be an (N, {columns}) array, got shape {array.shape}")
    if len(array) == 0:
        raise MeshError(f"{what} are empty")
    if not np.isfinite(array).all():
        raise MeshError(f"{what} contain NaN or infinite values")
    return array


# --------------------------------------------------------------------------- the object

class PreparedObject:
    """An object ready for sampling: surface samples and normals (in the sampling frame: mirrored for left
    hands), the bounding-box centre, and the 2048 centred points the autoencoder encodes."""

    def __init__(self, surface_points, surface_normals, centre, cloud):
        self.points, self.normals, self.centre, self.cloud = surface_points, surface_normals, centre, cloud


def _surface_samples(vertices: np.ndarray, faces: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``SURFACE_POINTS`` seeded area-weighted samples of a mesh and their face normals."""
    points, normals, _ = sample_triangles(vertices, faces, SURFACE_POINTS,
                                          seed=np.random.SeedSequence([seed, SURFACE_STREAM]))
    return points, normals


def prepare_object(obj, *, seed: int = 0, side: str = "right", normals=None) -> PreparedObject:
    """Check and sample an object: a mesh (anything with ``vertices`` and ``faces``, or a ``(vertices, faces)``
    pair) or surface points (N, 3) with optional outward ``normals`` (N, 3); metres, the object's own frame.

    A mesh gives ``SURFACE_POINTS`` seeded area-weighted samples with face normals; points are used as given.
    The centre is the bounding-box centre of the vertices / points (``geometry.mesh.normalize_object``).
    """
    if hasattr(obj, "vertices") and hasattr(obj, "faces"):
        obj = (obj.vertices, obj.faces)
    if isinstance(obj, tuple) and len(obj) == 2:
        vertices = _finite_array(obj[0], "mesh vertices", 3)
        faces = _finite_array(obj[1], "mesh faces", 3, dtype=np.int64)
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise MeshError("mesh faces reference vertices that do not exist")
        used = vertices[np.unique(faces)]
        check_object_size(float(np.ptp(used, axis=0).max()))
        if side == "left":
            used, vertices, faces = used * MIRROR, vertices * MIRROR, faces[:, ::-1]  # keep normals outward
        centre = (used.min(axis=0) + used.max(axis=0)) / 2
        points, surface_normals = _surface_samples(vertices, faces, seed)
    else:
        points = _finite_array(obj, "object points", 3)
        check_object_size(float(np.ptp(points, axis=0).max()))
        surface_normals = None if normals is None else _finite_array(normals, "object normals", 3)
        if surface_normals is not None and len(surface_normals) != len(points):
            raise MeshError(f"{len(surface_normals)} normals for {len(points)} object points")
        if side == "left":
            points = points * MIRROR
            surface_normals = None if surface_normals is None else surface_normals * MIRROR
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
    check_thickness(points)
    rng = np.random.default_rng([seed, SUBSET_STREAM])
    idx = rng.permutation(len(points))[:NUM_POINTS] if len(points) >= NUM_POINTS \
        else rng.integers(len(points), size=NUM_POINTS)
    return PreparedObject(points, surface_normals, centre, points[idx] - centre)


# --------------------------------------------------------------------------- the reverse loop

class NoiseStreams:
    """One NumPy generator per choice block (or pair); each draws the rows of its own candidates, so a block's
    noise does not depend on which other blocks share its batch."""

    def __init__(self, seed: int, stream: int, indices, rows_each: int):
        self.rngs = [np.random.default_rng([int(seed), stream, int(i)]) for i in indices]
        self.rows = rows_each

    def normal(self, dim: int) -> np.ndarray:
        return np.concatenate([rng.standard_normal((self.rows, dim)) for rng in self.rngs])


def surface_features_of(backend: Backend, clouds: np.ndarray, rows_each: int = 1):
    """For a model trained with surface features (``model.surface_features``), the function the reverse loop calls
    with the hand part of x_t (B, hand_dim) and alpha_bar (B,) to get them, for objects ``clouds`` (the centred
    points the latent encodes: (P, 3) for all rows, or (K, P, 3), each for ``rows_each`` rows in turn); None for
    other models (and nothing is copied for them)."""
    if not getattr(backend, "surface", False):
        return None
    if np.ndim(clouds) == 3 and rows_each > 1:
        clouds = np.repeat(clouds, rows_each, axis=0)
    from .hand.model_file import OPEN_HAND_FILE, load_hand_data
    from .model import surface_features

    data = load_hand_data(OPEN_HAND_FILE)  # the hand the training grasps are stored for

    def features(hand: np.ndarray, abar: np.ndarray) -> np.ndarray:
        return surface_features.surface_features(surface_features.keypoints_of_state(
            hand, abar, backend.hand_mean, backend.hand_std, backend.rotation, data), clouds)
    return features


def reverse(backend: Backend, x: np.ndarray, steps: int, method: str, noise: NoiseStreams,
            fixed_object: np.ndarray | None = None, control: np.ndarray | None = None, guidance: float = 1.0,
            surface=None, object_guidance: float | None = None):
    """Generator: x_T (B, 563) model space -> x_0 (its return value), yielding the fraction done after each step.

    Paper sec. 3.3.3: the network predicts x0, and the scheduler moves x_t to the next level s < t: deterministic
    DDIM over ``steps`` strided levels, or ancestral DDPM. With ``fixed_object`` (model space) only the hand is
    denoised and the object stays clean at t_O = 0 (UniDiffuser's conditional mode); a model trained with
    synchronised timesteps never saw t_O = 0, so for it the object is re-noised to the hand's level at every
    step instead (replacement conditioning). ``control`` (B, CONTROL_DIM), for a model with controls: the
    prediction is x0(nothing asked) + ``guidance`` (x0(control) - x0(nothing asked)) (classifier-free guidance;
    1 = the conditional prediction alone, one network call). ``surface`` (``surface_features_of``): the surface
    features of each step's hands, given to the network with a fixed object. ``object_guidance`` (None:
    ``OBJECT_GUIDANCE``), with a fixed object: guidance on the object, against the hand predicted with the object
    replaced by noise at t_O = T (one more network call per step).
    """
    abar = spec.cosine_alphas_cumprod(backend.num_train_steps)
    ts = spec.ddim_timesteps(steps, backend.num_train_steps)
    n = len(x)
    replace = fixed_object is not None and backend.sync_timesteps
    w_object = OBJECT_GUIDANCE if object_guidance is None else float(object_guidance)
    no_object = None
    if w_object != 1.0 and fixed_object is not None and not replace:
        no_object = noise.normal(spec.OBJECT_DIM)  # the object as the model sees it at t_O = T
        t_blind = np.full(n, backend.num_train_steps - 1, dtype=np.int64)
    for i, t in enumerate(ts):
        s = ts[i + 1] if i + 1 < len(ts) else 0
        t_hand = np.full(n, t, dtype=np.int64)
        t_object = t_hand
        if fixed_object is not None:
            obj = fixed_object
            if replace:
                obj = abar[t] ** 0.5 * fixed_object + (1 - abar[t]) ** 0.5 * noise.normal(spec.OBJECT_DIM)
            else:
                t_object = np.zeros(n, dtype=np.int64)
            x = np.concatenate([x[:, :-spec.OBJECT_DIM], obj], axis=1)
        # the object's prediction is not needed when it is given (overwritten above at every step)
        only = {"hand_only": True} if fixed_object is not None else {}
        if surface is not None and fixed_object is not None and not replace:
            only["surface"] = surface(x[:, :-spec.OBJECT_DIM], np.full(n, abar[t]))
        if control is None:
            x0 = np.asarray(backend.denoise(x, t_hand, t_object, **only), dtype=np.float64)
        else:
            x0 = np.asarray(backend.denoise(x, t_hand, t_object, control, **only), dtype=np.float64)
            if guidance != 1.0:
                free = np.asarray(backend.denoise(x, t_hand, t_object, **only), dtype=np.float64)
                x0 = free + guidance * (x0 - free)
        if no_object is not None:
            blind = np.concatenate([x[:, :-spec.OBJECT_DIM], no_object], axis=1)
            args = (blind, t_hand, t_blind) if control is None else (blind, t_hand, t_blind, control)
            x0_blind = np.asarray(backend.denoise(*args, **{k: v for k, v in only.items() if k != "surface"}),
                                  dtype=np.float64)
            x0 = x0_blind + w_object * (x0 - x0_blind)
        if method == "ddim":
            x = spec.ddim_update(x, x0, abar[t], abar[s])
        else:
            mean, var = spec.posterior(x, x0, abar[t], abar[s])
            x = mean + var ** 0.5 * noise.normal(x.shape[1])
        yield (i + 1) / len(ts)
    if fixed_object is not None:
        x = np.concatenate([x[:, :-spec.OBJECT_DIM], fixed_object], axis=1)
    return x


def _denormalize(backend: Backend, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model space -> MANO parameters (B, 51), raw object latents (B, 512)."""
    hand = x[:, :-spec.OBJECT_DIM] * backend.hand_std + backend.hand_mean
    return (hand_state.to_params(hand, backend.rotation),
            x[:, -spec.OBJECT_DIM:] * backend.object_std + backend.object_mean)


def _scaled(steps, start: float, share: float):
    """Re-yield a generator's progress fractions mapped to start + share * fraction; return its return value."""
    while True:
        try:
            fraction = next(steps)
        except StopIteration as stop:
            return stop.value
        yield start + share * fraction


# --------------------------------------------------------------------------- hands

def finish_hands(raw_hand: np.ndarray, offset: np.ndarray, surface=None, side: str = "right",
                 candidates: int = 1, block: int = 1, critic=None, grasp_type: str | None = None) -> dict:
    """Raw hand params (rows, 51), centred frame -> MANO params, keypoints, vertices in frame + offset.

    With an ``ObjectSurface`` (output frame, right-hand side) the grasps are refined (``jhod_core.refine``); with
    ``candidates`` > 1 the rows come in groups of ``block`` x ``candidates`` and each group keeps its ``block``
    best-scored (``GraspRefiner.scores``, or a ``critic.Critic``'s ``choice_scores`` where the model has one), in
    sample order. ``grasp_type`` (``steering.GRASP_TYPES``): refinement keeps that type's contact pattern.
    ``side="left"``: the object was mirrored before sampling; the right hands are mirrored back into left hands.
    """
    from .hand import load_hand_data, mirror_grasp, numpy_forward

    hand = np.array(raw_hand, dtype=np.float64)
    hand[:, TRANSL] += offset
    data = load_hand_data(None, "right")
    if surface is not None:
        from .refine import GraspRefiner

        refiner = GraspRefiner.for_hand(data)
        hand = refiner(hand, surface, grasp_type)
        if candidates > 1:
            group = block * candidates
            if critic is None:
                scores = refiner.scores(hand, surface)
            else:
                from .critic import critic_regions

                vertices = numpy_forward(data, *split_params(hand))[0]
                signed = surface.signed_distance(vertices)  # one query for the features and the depth penalty
                scores = critic.choice_scores(vertices, surface, critic_regions(data),
                                              refiner.depths(vertices, surface, signed[0]), signed)
            scores = scores.reshape(-1, group)
            best = np.sort(np.argsort(-scores, axis=1, kind="stable")[:, :block], axis=1)
            rows = (np.arange(len(scores))[:, None] * group + best).ravel()
            hand = hand[rows]
        hand = refiner.tidy(hand, surface)  # the kept grasps only: it measures every vertex
    elif candidates > 1:
        raise ValueError("choosing among candidates needs a surface to score them on")
    global_orient, hand_pose, transl = split_params(hand)
    if side == "left":
        global_orient, hand_pose, transl = mirror_grasp(global_orient, hand_pose, transl)
        data = load_hand_data(None, "left")
    vertices, _, keypoints = numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)
    return {"global_orient": global_orient, "hand_pose": hand_pose, "transl": transl, "keypoints": keypoints,
            "vertices": vertices, "faces": np.asarray(data.closed_faces)}


def refine_result(result: dict, points, normals, side: str = "right") -> dict:
    """``result`` (right hand entries of a sampler) refined against surface ``points`` (N, 3) with outward
    ``normals`` (N, 3), same frame: for hands whose object was surfaced after sampling. ``side="left"``
    returns the refined hands mirrored (x -> -x) into left hands: they hold the mirrored object."""
    from .hand.params import join_params
    from .refine import ObjectSurface

    check_options(side)
    params = join_params(result["global_orient"], result["hand_pose"], result["transl"])
    surface = ObjectSurface.from_points(points, normals)
    return {**result, **finish_hands(params, np.zeros(3), surface, side)}


# --------------------------------------------------------------------------- pipelines

def iter_grasps(backend: Backend, obj, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS,
                method: str = "ddim", refine: bool = True, candidates: int = CANDIDATES, side: str = "right",
                normals=None, first: int = 0, batch_size: int = BATCH_GRASPS, steering=None,
                guidance: float = GUIDANCE, pool: int | None = None):
    """Grasps ``first .. first + num - 1`` of ``obj`` (see ``prepare_object``), in the object's frame (metres).

    Checks everything and encodes the object at once (bad input raises here), then returns a generator that
    yields fractions done and, per batch, a dict: ``global_orient`` (b, 3), ``hand_pose`` (b, 45), ``transl``
    (b, 3) (MANO, flat hand mean), ``keypoints`` (b, 21, 3), ``vertices`` (b, V, 3), closed ``faces`` (F, 3),
    ``index`` (b,), ``seed``, ``offset`` (3,): the bounding-box centre subtracted before encoding.
    ``refine`` (default) refines every sample and keeps the best of each grasp's ``candidates``; without it the
    raw diffusion samples are returned (one per grasp). ``side="left"``: right hands are sampled on the mirrored
    object and mirrored back into left hands. ``steering`` (``jhod_core.steering.Steering``, object frame): grasps
    ``first * POOL ..`` are sampled and the ``num`` that best meet its wishes kept (``pool_index`` says which); a
    model trained with controls is also told the wishes (``guidance``: see ``reverse``) and samples
    ``CONTROLLED_POOL`` times as many. ``pool`` overrides that number (1: the network's own steering alone).
    """
    check_counts(num, steps, seed, first)
    check_options(side, candidates, method)
    if pool is not None and (not _is_int(pool) or not 1 <= pool <= MAX_CANDIDATES):
        raise JHODError(f"the steering pool must be an integer in 1..{MAX_CANDIDATES}, got {pool!r}")
    prepared = prepare_object(obj, seed=int(seed), side=side, normals=normals)
    latent = np.asarray(backend.encode(prepared.cloud[None]), dtype=np.float64)
    fixed = (latent - backend.object_mean) / backend.object_std
    surface = None
    if refine:
        from .refine import ObjectSurface

        surface = ObjectSurface.from_points(prepared.points, prepared.normals)
    per = int(candidates) if refine else 1
    offset = prepared.centre * MIRROR if side == "left" else prepared.centre

    flip = MIRROR if side == "left" else np.ones(3)
    steered = steering is not None and steering.active
    control = steering.controls(prepared.centre, flip) if steered and getattr(backend, "controls", False) else None

    features = surface_features_of(backend, prepared.cloud)

    def make(rows, noise):
        obj_part = np.broadcast_to(fixed, (rows, spec.OBJECT_DIM))
        return np.concatenate([noise.normal(len(backend.hand_mean)), obj_part], axis=1), obj_part

    def finish(x):
        raw_hand, _ = _denormalize(backend, x)
        return {**finish_hands(raw_hand, prepared.centre, surface, side, per, CHOICE_BLOCK,
                               getattr(backend, "critic", None), steering.grasp_type if steered else None),
                "seed": int(seed),
                "offset": offset}
    if steered:
        from .steering import CONTROLLED_POOL, POOL

        pool = int(pool) if pool is not None else POOL if control is None else CONTROLLED_POOL
        pool = _batches(backend, num * pool, first * pool, CHOICE_BLOCK, seed, GRASP_STREAM, CHOICE_BLOCK * per,
                        steps, method, batch_size, make, finish, control, guidance, features)
        normals = None if prepared.normals is None else prepared.normals * flip
        return _steered(pool, steering, (prepared.points * flip, normals), side, num, first)  # object frame
    return _batches(backend, num, first, CHOICE_BLOCK, seed, GRASP_STREAM, CHOICE_BLOCK * per, steps, method,
                    batch_size, make, finish, surface=features)


def _steered(pool, steering, surface_points, side: str, num: int, first: int):
    """The pool's batches -> the ``num`` grasps that best meet ``steering``: one batch in pool order, ``index``
    first .. first + num - 1 and ``pool_index``: which pool grasp each is."""
    from .hand import load_hand_data
    from .refine import ObjectSurface
    from .steering import choose, steering_costs

    batches = []
    for item in pool:
        if isinstance(item, dict):
            batches.append(item)
        else:
            yield 0.97 * item
    grasps = join_batches(batches)
    surface = ObjectSurface.from_points(*surface_points)
    measures = steering_costs(grasps, surface, steering, load_hand_data(None, side), side)
    keep = choose(measures["cost"], num)
    yield 1.0
    yield {**{key: value if key in SHARED_KEYS else value[keep] for key, value in grasps.items()},
           "index": np.arange(first, first + num), "pool_index": grasps["index"][keep]}


def iter_hand_object(backend: Backend, num: int, *, seed: int = 0, steps: int = DEFAULT_DDIM_STEPS,
                     method: str = "ddim", first: int = 0):
    """Pairs ``first .. first + num - 1`` of hands and objects sampled together (t_H = t_O = t), in the
    object-centric frame, unrefined: the hand entries of ``iter_grasps`` plus ``object_points`` (b, 2048, 3)
    decoded by the autoencoder. Callers surface the points and may refine against them (``refine_result``).
    Checks the arguments at once; returns a generator like ``iter_grasps``.

    Each pair runs through the network on its own (batches of one): a matrix product's last bits depend on the
    batch it is in, surfacing and refinement grow such 1e-8 differences into millimetres, and pair i must be the
    same whether asked for alone or among others. It costs little: the surfacing and refinement that follow take
    about ten times longer than the pair's reverse loop."""
    check_counts(num, steps, seed, first)
    check_options(method=method)

    def make(rows, noise):
        return noise.normal(len(backend.hand_mean) + spec.OBJECT_DIM), None

    def finish(x):
        raw_hand, latent = _denormalize(backend, x)
        points = np.asarray(backend.decode(latent), dtype=np.float64)
        return {**finish_hands(raw_hand, np.zeros(3)), "object_points": points, "seed": int(seed)}
    return _batches(backend, num, first, 1, seed, PAIR_STREAM, 1, steps, method, 1, make, finish)


def pair_hands(backend: Backend, hands: np.ndarray, meshes: list, *, seed: int = 0, indices=None,
               candidates: int = PAIR_CANDIDATES, steps: int = DEFAULT_DDIM_STEPS, method: str = "ddim",
               side: str = "right") -> list[dict]:
    """The hands of jointly sampled pairs ``indices`` (default 0 .. P - 1) of ``seed``: MANO params (P, 51), each in
    its pair's frame, whose generated objects were surfaced into ``meshes`` (vertices, faces; same frames) -> one
    dict of ``finish_hands``' entries per pair.

    Each pair's joint hand and ``candidates - 1`` hands sampled conditionally on its object (the object's own model,
    t_O = 0; noise stream ``[seed, PAIR_HAND_STREAM, index]``) are refined against it, and the best-scored kept
    (the critic where the model has one), as ``iter_grasps`` chooses: p(object) p(hand | object) is a joint
    sample too, and the conditional mode is the better-trained one. ``candidates=1``: the joint hands refined.
    ``side="left"``: mirrored (x -> -x) into left hands, holding the mirrored meshes. The pairs' reverse loops run
    as one batch (one network call per step for all; one loop per pair was 37 % of the pairs' time without SciPy);
    a pair's noise is its own, so it gets the same candidates, to float precision, with any other pairs (the
    refinement's discrete choices, a finger's offset, can still part at a tie that fine).
    """
    check_options(side, candidates, method)
    from .refine import ObjectSurface

    hands = np.asarray(hands, dtype=np.float64).reshape(len(meshes), -1)
    indices = list(range(len(meshes))) if indices is None else [int(i) for i in indices]
    prepared, own = [], []  # own: a degenerate generated object (flat, tiny) gets its own hand, refined alone
    for mesh in meshes:
        try:
            prepared.append(prepare_object(mesh, seed=int(seed)))
            own.append(candidates == 1)
        except MeshError:
            vertices, faces = (mesh.vertices, mesh.faces) if hasattr(mesh, "vertices") else mesh
            points, normals = _surface_samples(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), seed)
            prepared.append(PreparedObject(points, normals, np.zeros(3), None))
            own.append(True)
    sampled = [p for p in range(len(meshes)) if not own[p]]
    conditional = {}
    if sampled:
        rows = candidates - 1
        latent = np.asarray(backend.encode(np.stack([prepared[p].cloud for p in sampled])), dtype=np.float64)
        fixed = np.repeat((latent - backend.object_mean) / backend.object_std, rows, axis=0)
        noise = NoiseStreams(seed, PAIR_HAND_STREAM, [indices[p] for p in sampled], rows)
        x = np.concatenate([noise.normal(len(backend.hand_mean)), fixed], axis=1)
        features = surface_features_of(backend, np.stack([prepared[p].cloud for p in sampled]), rows)
        params = _denormalize(backend, _last(reverse(backend, x, int(steps), method, noise, fixed_object=fixed,
                                                     surface=features)))[0]
        conditional = {p: params[k * rows:(k + 1) * rows] for k, p in enumerate(sampled)}
    out = []
    for p, obj in enumerate(prepared):
        raw = hands[p:p + 1].copy()
        raw[:, TRANSL] -= obj.centre  # finish_hands adds the centre back
        raw = np.concatenate([raw, conditional.get(p, raw[:0])])
        surface = ObjectSurface.from_points(obj.points, obj.normals)
        out.append(finish_hands(raw, obj.centre, surface, side, len(raw), 1, getattr(backend, "critic", None)))
    return out


def _last(steps):
    """Run a generator to its end; its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _batches(backend, num, first, per_unit, seed, stream, rows_each, steps, method, batch_size, make, finish,
             control=None, guidance=1.0, surface=None):
    """The batch loop of both pipelines. Items come in units of ``per_unit`` (a choice block, or one pair) that
    draw ``rows_each`` rows of noise from their own stream; per batch of units: ``make(rows, noise)`` -> (x_T,
    fixed object), the reverse loop, ``finish(x_0)`` -> the units' items; those in first .. first + num - 1 are
    yielded with their ``index``. ``control`` (CONTROL_DIM,): the same controls for every row."""
    units = np.arange(first // per_unit, (first + num - 1) // per_unit + 1)
    step = max(1, batch_size // per_unit)
    for k in range(0, len(units), step):
        chunk = units[k:k + step]
        noise = NoiseStreams(seed, stream, chunk, rows_each)
        x, fixed_object = make(len(chunk) * rows_each, noise)
        rows = None if control is None else np.repeat(control[None], len(x), axis=0)
        x = yield from _scaled(reverse(backend, x, int(steps), method, noise, fixed_object=fixed_object,
                                       control=rows, guidance=guidance, surface=surface),
                               k / len(units), 0.9 * len(chunk) / len(units))
        batch = finish(x)
        indices = (chunk[:, None] * per_unit + np.arange(per_unit)).ravel()
        keep = (indices >= first) & (indices < first + num)
        yield (k + len(chunk)) / len(units)
        yield {**{key: value if key in SHARED_KEYS else value[keep] for key, value in batch.items()},
               "index": indices[keep]}


SHARED_KEYS = ("faces", "seed", "offset")


def join_batches(batches: list[dict]) -> dict:
    """Batches of one run -> one result (arrays concatenated; ``faces``, ``seed``, ``offset`` taken once)."""
    if not batches:
        raise JHODError("nothing was sampled")
    return {key: batches[0][key] if key in SHARED_KEYS else np.concatenate([b[key] for b in batches])
            for key in batches[0]}


def collect(run, progress=None) -> dict:
    """Run a pipeline generator to its end (``progress(fraction)`` on each step) and join its batches."""
    batches = []
    for item in run:
        if isinstance(item, dict):
            batches.append(item)
        elif progress is not None:
            progress(float(item))
    return join_batches(batches)


def set_threads(threads: int | None = None) -> int:
    """Use ``threads`` CPU threads for the network (torch and NumPy's BLAS); None: ``default_threads()``.

    On a busy 2-core machine torch's default (all cores) thrashed: 8 grasps took 17-21 s with 2 threads and
    1.4-1.7 s with 1 (docs/speed.md), so the default is half the cores.
    """
    threads = default_threads() if threads is None else int(threads)
    if threads < 1:
        raise JHODError(f"--threads must be at least 1, got {threads}")
    if torch_available():
        import torch

        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # Blender has no threadpoolctl: BLAS keeps its own setting
        pass
    return threads


def default_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 2) // 2))
