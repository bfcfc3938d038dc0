"""Grasp quality metrics: penetration, intersection volume, contact, simulation, diversity.

Inputs are in the object frame in **metres**: the object as a ``trimesh.Trimesh``, the hand as
vertices (778 for MANO, any count works) plus faces of a *closed* hand (MANO's 1538 faces + the
wrist-closing faces). Reported values use the units of the papers' tables: **cm** and **cm^3**.
Protocols follow OakInk-Grasp-Generation, obman_train / GraspTTA and HALO; each docstring names
its source and every deviation. ``docs/metrics.md`` has the long form, ``docs/metrics_validation.md``
the analytic checks.

Importing this module is cheap: pybullet is imported on the first simulation.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.linalg
import scipy.stats
import trimesh

from jhod_core.errors import JHODError
from jhod_core.geometry.inside import contains, signed_distance
from jhod_core.geometry.voxels import grid_points

CONTACT_THRESHOLD = 0.005  # m; GraspTTA penetration_tol: a vertex within 5 mm (or inside) touches
INTERSECTION_PITCH = 0.001  # m; HALO's grid spacing (OakInk: binvox 128^3, ~0.8 mm on a 10 cm object)

# Simulation protocol of obman_train / GraspTTA / OakInk-Grasp-Generation.
SIM_STEPS = 35
SIM_TIME_STEP = 1.0 / 240.0
SIM_SOLVER_ITERATIONS = 150
SIM_GRAVITY = 9.8  # m/s^2
HAND_FRICTION, HAND_RESTITUTION = 3.0, 0.0
OBJECT_MASS, OBJECT_FRICTION, OBJECT_RESTITUTION = 1.0, 3.0, 0.5
# pybullet.vhacd parameters of OakInk-Grasp-Generation scripts/process_obj_mesh.py.
VHACD_PARAMS = dict(
    resolution=100000, concavity=0.0025, planeDownsampling=4, convexhullDownsampling=4,
    alpha=0.05, beta=0.0, pca=0, mode=0, maxNumVerticesPerCH=64, minVolumePerCH=0.0001,
)
SIX_DIRECTIONS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))

DIVERSITY_CLUSTERS = 20  # HALO evaluate_cluster.py


# --------------------------------------------------------------------------- penetration, contact

def penetration_depth(obj_mesh: trimesh.Trimesh, hand_verts: np.ndarray) -> float:
    """Deepest penetration of the hand into the object, **cm**; 0 when no hand vertex is inside.

    Max over hand vertices inside the object of their exact distance to the object *surface*
    (GraspTTA ``metric/penetration.py``). OakInk-Grasp-Generation instead measures the distance to
    the nearest object *vertex*, which is >= ours and grows with coarse object meshes.
    """
    return depth_cm_from_signed(signed_distance(obj_mesh, hand_verts))


def contact(obj_mesh: trimesh.Trimesh, hand_verts: np.ndarray, threshold: float = CONTACT_THRESHOLD) -> bool:
    """True if any hand vertex is inside the object or within ``threshold`` m (5 mm) of its surface.

    GraspTTA ``gen_diverse_grasp_ho3d.py`` definition. HALO counts only grasps with penetration
    (distance < 0), which is stricter.
    """
    return bool(touching_from_signed(signed_distance(obj_mesh, hand_verts), threshold).any())


def contact_ratio(contacts: Iterable[bool]) -> float:
    """Fraction of grasps in contact (GraspTTA/HALO "contact ratio"), in [0, 1]."""
    contacts = np.asarray(list(contacts), dtype=bool)
    if contacts.size == 0:
        raise ValueError("contact_ratio of an empty list of grasps")
    return float(contacts.mean())


def fingers_in_contact(
    obj_mesh: trimesh.Trimesh,
    hand_verts: np.ndarray,
    finger_vertex_ids: Mapping[str, Sequence[int]],
    threshold: float = CONTACT_THRESHOLD,
) -> list[str]:
    """Names (in ``finger_vertex_ids`` order) of fingers with any vertex touching the object.

    "Touching" is the vertex-level rule of ``contact``: inside, or within ``threshold`` m.
    """
    touching = touching_from_signed(signed_distance(obj_mesh, hand_verts), threshold)
    return [name for name, ids in finger_vertex_ids.items() if touching[np.asarray(ids, dtype=np.int64)].any()]


def depth_cm_from_signed(signed: np.ndarray) -> float:
    """Penetration depth (cm) from hand-vertex signed distances (m, negative inside)."""
    return float(max(0.0, -signed.min(initial=0.0)) * 100.0)


def touching_from_signed(signed: np.ndarray, threshold: float) -> np.ndarray:
    """Vertices inside or within ``threshold`` m of the object, from their signed distances."""
    return signed <= threshold  # negative = inside


# --------------------------------------------------------------------------- intersection volume

def intersection_volume(
    obj_mesh: trimesh.Trimesh, hand_mesh: trimesh.Trimesh, pitch: float = INTERSECTION_PITCH, may_be_inside=None
) -> float:
    """Solid hand-object intersection volume, **cm^3**.

    Counts the points of an interior-filled grid of spacing ``pitch`` (default 1 mm, HALO's
    ``res``) that lie inside both the object and the closed hand; volume = count * pitch^3. The grid
    covers only the overlap of the two bounding boxes. Same quantity as OakInk's
    ``solid_intersection_volume`` (object binvox 128^3 voxel centres inside the hand) and HALO's
    ``intersection_eval``; obman_train/GraspTTA use trimesh's *surface* voxels at 5 mm, which
    under-counts deep overlaps. Error ~ (boundary area of the overlap) * pitch / 2 in the worst
    case, much less on average (see docs/metrics_validation.md).

    ``may_be_inside`` (optional): points (n, 3) -> (n,) bool, False only for points certainly outside the object
    (e.g. a distance grid with a safety margin); it skips the exact tests there and leaves the result unchanged.
    """
    lo = np.maximum(obj_mesh.bounds[0], hand_mesh.bounds[0])
    hi = np.minimum(obj_mesh.bounds[1], hand_mesh.bounds[1])
    if np.any(hi <= lo):
        return 0.0
    points = grid_points(np.stack([lo, hi]), pitch)
    if may_be_inside is not None:
        points = points[may_be_inside(points)]
    # test the watertight mesh first (fast ray parity), the other only on the survivors
    first, second = hand_mesh, obj_mesh
    if obj_mesh.is_watertight and not hand_mesh.is_watertight:
        first, second = obj_mesh, hand_mesh
    points = points[contains(first, points)]
    count = int(contains(second, points).sum())
    return count * pitch**3 * 1e6


# --------------------------------------------------------------------------- simulation

def simulation_displacement(
    obj_mesh: trimesh.Trimesh,
    hand_mesh: trimesh.Trimesh | None,
    gravity_dir: Sequence[float] = (0, 1, 0),
    cache: str | os.PathLike | None = None,
) -> float:
    """Distance (**cm**) the object moves in 35 PyBullet steps under gravity, held by a static hand.

    Protocol of obman_train ``simulate.py`` as used by GraspTTA and OakInk-Grasp-Generation: DIRECT
    client, ``numSolverIterations`` 150, ``fixedTimeStep`` 1/240 s, gravity 9.8 m/s^2 along
    ``gravity_dir`` (default +y: y points down in the ObMan/OakInk camera frame); hand = static
    (mass 0) concave triangle mesh, friction 3, restitution 0; object = its VHACD convex
    decomposition (OakInk parameters, cached, see ``vhacd_decomposition``), mass 1 kg, friction 3,
    restitution 0.5, centre of mass at the mean of its vertices; 35 ``stepSimulation`` calls.
    Result = distance between the start and end centre of mass. (OakInk reports the norm of the
    final base position, which adds the offset between the vertex mean and the bounding-box
    centre.) A free object falls 10.68 cm, not 0.5 g t^2 = 10.42 cm: semi-implicit Euler plus
    Bullet's default damping (docs/metrics_validation.md). ``hand_mesh=None`` simulates the object
    alone (calibration). Deterministic.
    """
    decomposition = vhacd_decomposition(obj_mesh, cache)
    return float(np.linalg.norm(next(_simulate(decomposition, obj_mesh, hand_mesh, [gravity_dir])))) * 100.0


def simulation_displacement_6dir(
    obj_mesh: trimesh.Trimesh,
    hand_mesh: trimesh.Trimesh | None,
    cache: str | os.PathLike | None = None,
    stop_above: float | None = None,
) -> float:
    """Mean ``simulation_displacement`` (**cm**) over gravity along +x, -x, +y, -y, +z, -z.

    Our addition: the single +y direction of the protocol rewards grasps that merely sit under the
    object in that frame; averaging six directions asks the hand to hold against any pull.
    ``stop_above`` (cm): stop as soon as the mean is certain to exceed it and return the lower
    bound reached so far (a filter's shortcut; the value is then not the full mean).
    """
    decomposition = vhacd_decomposition(obj_mesh, cache)
    total = 0.0
    runs = _simulate(decomposition, obj_mesh, hand_mesh, SIX_DIRECTIONS)
    for move in runs:
        total += float(np.linalg.norm(move)) * 100.0
        if stop_above is not None and total / len(SIX_DIRECTIONS) > stop_above:
            runs.close()  # disconnects the client
            break
    return total / len(SIX_DIRECTIONS)


def simulation_displacements(obj_mesh: trimesh.Trimesh, hand_mesh: trimesh.Trimesh | None,
                             cache: str | os.PathLike | None = None) -> np.ndarray:
    """(6,) displacement (**cm**) per gravity direction of ``SIX_DIRECTIONS`` (the third, +y, is the protocol's
    ``simulation_displacement``; the mean is ``simulation_displacement_6dir``), all six run to the end."""
    decomposition = vhacd_decomposition(obj_mesh, cache)
    return np.array([float(np.linalg.norm(move)) * 100.0
                     for move in _simulate(decomposition, obj_mesh, hand_mesh, SIX_DIRECTIONS)])


def vhacd_decomposition(obj_mesh: trimesh.Trimesh, cache: str | os.PathLike | None = None) -> Path:
    """Path of the VHACD convex decomposition (.obj) of ``obj_mesh``, computed once per object.

    Keyed by a hash of the vertices, faces and VHACD parameters. ``cache`` is a directory that
    keeps decompositions across runs; ``None`` uses a per-process temporary directory.
    """
    key = hashlib.sha1()
    key.update(np.ascontiguousarray(obj_mesh.vertices, dtype=np.float64).tobytes())
    key.update(np.ascontiguousarray(obj_mesh.faces, dtype=np.int64).tobytes())
    key.update(repr(sorted(VHACD_PARAMS.items())).encode())
    directory = Path(cache) if cache is not None else _session_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"vhacd_{key.hexdigest()}.obj"
    if out.exists():
        return out

    with tempfile.TemporaryDirectory(dir=directory) as work:
        src, dst, log = (os.path.join(work, name) for name in ("in.obj", "out.obj", "vhacd.log"))
        trimesh.Trimesh(obj_mesh.vertices, obj_mesh.faces, process=False).export(src)
        pb = _pybullet()
        with _quiet():
            pb.vhacd(src, dst, log, **VHACD_PARAMS)
        if not os.path.exists(dst) or os.path.getsize(dst) == 0:
            raise JHODError("VHACD convex decomposition of the object failed (no output); is the mesh degenerate?")
        os.replace(dst, out)  # atomic: a concurrent reader sees all or nothing
    return out


def _simulate(decomposition: Path, obj_mesh: trimesh.Trimesh, hand_mesh: trimesh.Trimesh | None,
              gravity_dirs: Sequence[Sequence[float]]):
    """Protocol runs, one per gravity direction, in a private DIRECT client.

    Yields the centre-of-mass motion (3,) in metres per direction. The static hand's concave
    shape (the costly part to build) is made once; each direction gets a freshly created object
    at the start pose, so runs do not influence each other.
    """
    pb = _pybullet()
    client = pb.connect(pb.DIRECT)
    try:
        kw = dict(physicsClientId=client)
        pb.resetSimulation(**kw)
        pb.setPhysicsEngineParameter(enableFileCaching=0, numSolverIterations=SIM_SOLVER_ITERATIONS,
                                     fixedTimeStep=SIM_TIME_STEP, **kw)
        if hand_mesh is not None:
            hand_shape = pb.createCollisionShape(
                pb.GEOM_MESH, vertices=np.asarray(hand_mesh.vertices, dtype=np.float64).tolist(),
                indices=np.asarray(hand_mesh.faces, dtype=np.int64).ravel().tolist(),
                flags=pb.GEOM_FORCE_CONCAVE_TRIMESH, **kw)
            hand = pb.createMultiBody(baseMass=0, baseCollisionShapeIndex=hand_shape, **kw)
            pb.changeDynamics(hand, -1, lateralFriction=HAND_FRICTION, restitution=HAND_RESTITUTION, **kw)
        with _quiet():
            obj_shape = pb.createCollisionShape(pb.GEOM_MESH, fileName=str(decomposition), **kw)
        centre_of_mass = np.asarray(obj_mesh.vertices, dtype=np.float64).mean(axis=0)
        for gravity_dir in gravity_dirs:
            gravity = np.asarray(gravity_dir, dtype=np.float64)
            pb.setGravity(*(SIM_GRAVITY * gravity / np.linalg.norm(gravity)).tolist(), **kw)
            obj = pb.createMultiBody(baseMass=OBJECT_MASS, baseCollisionShapeIndex=obj_shape, basePosition=[0, 0, 0],
                                     baseInertialFramePosition=centre_of_mass.tolist(), **kw)
            pb.changeDynamics(obj, -1, lateralFriction=OBJECT_FRICTION, restitution=OBJECT_RESTITUTION, **kw)
            start = np.array(pb.getBasePositionAndOrientation(obj, **kw)[0])  # centre of mass, world frame
            for _ in range(SIM_STEPS):
                pb.stepSimulation(**kw)
            end = np.array(pb.getBasePositionAndOrientation(obj, **kw)[0])
            pb.removeBody(obj, **kw)
            yield end - start
    finally:
        pb.disconnect(physicsClientId=client)


def _pybullet():
    """Import pybullet on first use, swallowing the build-time banner it prints."""
    if "pybullet" not in sys.modules:
        with _quiet():
            import pybullet  # noqa: F401
    return sys.modules["pybullet"]


@contextlib.contextmanager
def _quiet():
    """Silence C-level stdout/stderr (pybullet and VHACD print from C; ``sys.stdout`` swaps miss it)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


_SESSION_CACHE: Path | None = None


def _session_cache_dir() -> Path:
    global _SESSION_CACHE
    if _SESSION_CACHE is None:
        _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="jhod_vhacd_"))
        atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
    return _SESSION_CACHE


# --------------------------------------------------------------------------- diversity

def canonical_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Express 21 MANO-order keypoints (..., 21, 3) in a hand frame, removing global pose.

    Origin: wrist (kp 0). With a = index MCP (kp 5) - wrist and b = pinky MCP (kp 17) - wrist:
    x = unit(a + b) (towards the fingers), z = unit(a x b) (palm normal), y = z x x. Invariant to
    any rotation + translation of the input; units unchanged.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    rel = kp - kp[..., :1, :]
    a, b = rel[..., 5, :], rel[..., 17, :]
    x = _unit(a + b)
    z = _unit(np.cross(a, b))
    y = np.cross(z, x)
    frame = np.stack([x, y, z], axis=-2)  # rows = axes
    return np.einsum("...ij,...kj->...ki", frame, rel)


def diversity(keypoints: np.ndarray, k: int = DIVERSITY_CLUSTERS, seed: int = 0) -> tuple[float, float]:
    """Grasp diversity ``(entropy, cluster_size)`` of N grasps given as 21 keypoints (N, 21, 3) in m.

    HALO ``evaluate_cluster.py``: keypoints in **cm**, canonicalised (``canonical_keypoints``),
    flattened to 63-d, k-means with k = 20; entropy = ``scipy.stats.entropy`` of the cluster sizes
    (natural log, 0 .. ln k = 3.00 for k = 20); cluster size = mean distance (**cm**) of a grasp
    to its centroid. K-means is scikit-learn's ``KMeans`` (k-means++, best of 10 runs, seeded), as the
    published diversity scripts use, instead of HALO's ``scipy.cluster.vq.kmeans`` (global RNG, drops
    empty clusters); with N < k, k = N (each grasp its own cluster: entropy ln N, cluster size 0).
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (21, 3):
        raise ValueError(f"diversity expects keypoints of shape (N, 21, 3), got {kp.shape}")
    # rounded to 1e-6 cm so that float noise of the canonicalisation cannot split identical grasps
    features = np.round(canonical_keypoints(kp * 100.0).reshape(len(kp), -1), 6)
    k = min(k, len(features))
    from sklearn.cluster import KMeans

    unique = len(np.unique(features, axis=0))
    fit = KMeans(n_clusters=min(k, unique), n_init=10, random_state=seed).fit(features)
    labels = fit.labels_
    dist = np.linalg.norm(features - fit.cluster_centers_[labels], axis=1)
    counts = np.bincount(labels, minlength=k)
    return float(scipy.stats.entropy(counts)), float(dist.mean())


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("degenerate hand keypoints: wrist, index MCP and pinky MCP are collinear")
    return v / norm


# --------------------------------------------------------------------------- all together

def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D) and (M, D): the FID formula
    |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)). The features (e.g. Inception activations of
    rendered grasps) come from the caller: no extractor weights can be shipped or downloaded here."""
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


# --------------------------------------------------------------------------- protocols of published scripts

def intersection_volume_surface_voxels(obj_mesh: trimesh.Trimesh, hand_mesh: trimesh.Trimesh,
                                       pitch: float = 0.005) -> float:
    """obman_train / GraspTTA ``intersect_vox``: the object's *surface* voxelised at ``pitch`` (trimesh
    ``voxelized``, not filled), voxel centres inside the closed hand, times pitch^3 (cm^3)."""
    points = obj_mesh.voxelized(pitch).points
    return float(contains(hand_mesh, points).sum() * pitch**3 * 1e6)


def intersection_volume_binvox(obj_mesh: trimesh.Trimesh, hand_mesh: trimesh.Trimesh, cells: int = 128) -> float:
    """OakInk-Grasp-Generation ``solid_intersection_volume``: the object filled on a ``cells``^3 grid over its
    bounding cube (binvox -d 128: pitch = longest side / 128), voxel centres inside the closed hand, times the voxel
    volume (cm^3)."""
    lo, hi = np.asarray(obj_mesh.bounds, dtype=np.float64)
    pitch = float((hi - lo).max()) / cells
    axes = [lo[i] + (np.arange(int(np.ceil((hi[i] - lo[i]) / pitch))) + 0.5) * pitch for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    solid = grid[contains(obj_mesh, grid)]
    return float(contains(hand_mesh, solid).sum() * pitch**3 * 1e6)


def penetration_depth_vertex(obj_mesh: trimesh.Trimesh, hand_verts: np.ndarray) -> float:
    """OakInk-Grasp-Generation ``penetration``: max over hand vertices inside the object of the distance to the
    nearest object *vertex* (cm); never smaller than ``penetration_depth`` and larger on coarse meshes."""
    from scipy.spatial import cKDTree

    hand_verts = np.asarray(hand_verts, dtype=np.float64)
    inside = contains(obj_mesh, hand_verts)
    if not inside.any():
        return 0.0
    return float(cKDTree(np.asarray(obj_mesh.vertices)).query(hand_verts[inside])[0].max() * 100.0)


PROTOCOLS = {
    # ours: exact surface depth, filled 1 mm grid (HALO's), contact within 5 mm (GraspTTA's)
    "jhod": {"depth": "surface", "volume": "solid_1mm", "contact": "within_5mm"},
    # HALO / ContactGen evaluation: filled 1 mm grid; in contact only when a hand vertex penetrates
    "halo": {"depth": "surface", "volume": "solid_1mm", "contact": "penetrating"},
    # obman_train / GraspTTA: object surface voxels at 5 mm; contact within 5 mm
    "grasptta": {"depth": "surface", "volume": "surface_5mm", "contact": "within_5mm"},
    # OakInk-Grasp-Generation (the JHOD paper's OakInk table): vertex depth, binvox 128^3 solid object voxels
    "oakink": {"depth": "nearest_vertex", "volume": "binvox_128", "contact": "within_5mm"},
}


def evaluate_grasp(
    obj_mesh: trimesh.Trimesh,
    hand_verts: np.ndarray,
    hand_faces: np.ndarray,
    *,
    sim: bool = True,
    pitch: float = INTERSECTION_PITCH,
    cache: str | os.PathLike | None = None,
    protocol: str = "jhod",
) -> dict:
    """All metrics of one grasp (object frame, metres in):

    ``penetration_depth_cm``, ``intersection_volume_cm3``, ``contact`` (bool),
    ``sim_displacement_cm`` and ``sim_displacement_6dir_cm`` (``None`` when ``sim=False``). ``protocol`` picks the
    published definitions to reproduce (``PROTOCOLS``: jhod, halo, grasptta, oakink; docs/metrics.md); the
    simulation is the same in all (obman_train's, as OakInk and GraspTTA run it). ``pitch`` applies to the 1 mm
    filled-grid volume of jhod and halo.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown metric protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    rules = PROTOCOLS[protocol]
    hand_mesh = trimesh.Trimesh(np.asarray(hand_verts, dtype=np.float64), np.asarray(hand_faces), process=False)
    signed = signed_distance(obj_mesh, hand_mesh.vertices)  # shared by depth and contact
    volume = {"solid_1mm": lambda: intersection_volume(obj_mesh, hand_mesh, pitch),
              "surface_5mm": lambda: intersection_volume_surface_voxels(obj_mesh, hand_mesh),
              "binvox_128": lambda: intersection_volume_binvox(obj_mesh, hand_mesh)}[rules["volume"]]
    depth = depth_cm_from_signed(signed) if rules["depth"] == "surface" else \
        penetration_depth_vertex(obj_mesh, hand_mesh.vertices)
    touching = signed < 0 if rules["contact"] == "penetrating" else touching_from_signed(signed, CONTACT_THRESHOLD)
    result = {
        "penetration_depth_cm": depth,
        "intersection_volume_cm3": volume(),
        "contact": bool(np.asarray(touching).any()),
        "sim_displacement_cm": None,
        "sim_displacement_6dir_cm": None,
    }
    if sim:
        result["sim_displacement_cm"] = simulation_displacement(obj_mesh, hand_mesh, cache=cache)
        result["sim_displacement_6dir_cm"] = simulation_displacement_6dir(obj_mesh, hand_mesh, cache=cache)
    return result
