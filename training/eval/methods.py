"""The methods ``python -m training.eval`` compares, as a registry, and the objects they are compared on.

Each method is a ``Method``: ``prepare(ctx)`` loads what it needs once (kept out of the speed numbers), then
``run(ctx, mesh, base)`` returns one metric job per object (MANO parameter rows turned into hands), or, for a
method that makes its own objects (``joint``), ``run(ctx)`` returns its jobs once. To add a method, write its
function and ``register`` it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from jhod_core.hand.params import HAND_POSE, TRANSL, join_params, split_params

METRIC_KEYS = ("penetration_depth_cm", "intersection_volume_cm3", "sim_displacement_cm", "sim_displacement_6dir_cm",
               "accepted")


@dataclass
class Context:
    """What the methods share: the command-line arguments, the hand, and whatever ``prepare`` loaded."""

    args: object
    data: object
    loaded: dict = field(default_factory=dict)


@dataclass
class Method:
    name: str
    run: Callable
    prepare: Callable | None = None
    joint: bool = False  # makes its own objects: run(ctx) once instead of run(ctx, mesh, base) per object


METHODS: dict[str, Method] = {}


def register(name: str, prepare: Callable | None = None, joint: bool = False):
    def add(run):
        METHODS[name] = Method(name, run, prepare, joint)
        return run
    return add


def pick_objects(root: str, splits: list[str], limit: int, seed: int,
                 with_hold_part: bool = False) -> list[tuple[str, str]]:
    """The first ``limit`` objects of each split in a seeded random order: [(object id, split)]. ``with_hold_part``:
    only objects with a part to prefer (a handle, a grip: ``accept.part_to_prefer``), where holding it is a choice."""
    from training.data.corpus import split_ids
    from training.synthesize.accept import object_part_to_prefer

    chosen = []
    for split in splits:
        ids = split_ids(root, split)
        if with_hold_part:
            ids = [i for i in ids if object_part_to_prefer(root, i) is not None]
        order = np.random.default_rng(seed).permutation(len(ids))[:limit]
        chosen += [(ids[i], split) for i in sorted(order)]
    return chosen


def params_of(result: dict) -> np.ndarray:
    return join_params(result["global_orient"], result["hand_pose"], result["transl"])


def hand_job(base: dict, method: str, params: np.ndarray, data) -> dict:
    """A metric job for MANO parameter rows (G, 51): hand vertices and keypoints by the NumPy forward."""
    from jhod_core.hand import numpy_forward

    global_orient, hand_pose, transl = split_params(params)
    verts, _, keypoints = numpy_forward(data, global_orient=global_orient, hand_pose=hand_pose, transl=transl)
    return {**base, "method": method, "vertices": verts, "hand_pose": params[:, HAND_POSE], "keypoints": keypoints,
            "params": params}


def _result_job(base: dict, method: str, result: dict) -> dict:
    return {**base, "method": method, "vertices": result["vertices"], "hand_pose": result["hand_pose"],
            "keypoints": result["keypoints"], "params": params_of(result)}


def _load_jhod(ctx: Context) -> None:
    from jhod_core.pipeline import load_backend

    load_backend(ctx.args.weights)  # fail early, and keep first-load time out of the speed numbers


@register("jhod_raw", prepare=_load_jhod)
def jhod_raw(ctx: Context, mesh, base: dict) -> dict:
    """Conditional JHOD samples, no refinement (``sample_grasps(refine=False)``)."""
    from jhod_core.sample import sample_grasps

    a = ctx.args
    return _result_job(base, "jhod_raw", sample_grasps(mesh, a.num, seed=a.seed, steps=a.steps, weights_dir=a.weights,
                                                       refine=False))


@register("jhod", prepare=_load_jhod)
def jhod(ctx: Context, mesh, base: dict) -> dict:
    """What ``jhod sample`` returns: ``--candidates`` refined samples per grasp, the best kept."""
    from jhod_core.sample import sample_grasps

    a = ctx.args
    return _result_job(base, "jhod", sample_grasps(mesh, a.num, seed=a.seed, steps=a.steps, weights_dir=a.weights,
                                                   candidates=a.candidates))


@register("jhod_joint", prepare=_load_jhod, joint=True)
def jhod_joint(ctx: Context) -> list[dict]:
    """What ``jhod sample-joint`` returns: hand and object sampled together, each hand chosen among
    ``--pair-candidates`` on its own generated (surfaced) object and measured there."""
    from jhod_core.sample import sample_hand_object

    a = ctx.args
    joint = sample_hand_object(a.joint_num, seed=a.seed, steps=a.steps, weights_dir=a.weights,
                               candidates=a.pair_candidates)
    params = params_of(joint)
    return [{"object_id": f"generated_{i:03d}", "split": "generated", "method": "jhod_joint",
             "mesh": (np.asarray(m.vertices), np.asarray(m.faces)), "sim": not a.no_sim,
             "vertices": joint["vertices"][i:i + 1], "hand_pose": joint["hand_pose"][i:i + 1],
             "keypoints": joint["keypoints"][i:i + 1], "params": params[i:i + 1]}
            for i, m in enumerate(joint["object_meshes"])]


def _load_grabnet(ctx: Context) -> None:
    from jhod_core.hand import HandModel
    from training.baselines import grabnet

    ctx.loaded["grabnet"] = (grabnet.load(ctx.args.grabnet), HandModel())


@register("grabnet", prepare=_load_grabnet)
def grabnet(ctx: Context, mesh, base: dict) -> dict:
    """The GrabNet-style baseline (CoarseNet + RefineNet), on the object as JHOD sees it."""
    import torch

    from jhod_core.pipeline import prepare_object

    model, hand_model = ctx.loaded["grabnet"]
    prepared = prepare_object(mesh, seed=ctx.args.seed)
    params = model.sample(hand_model, torch.as_tensor(prepared.cloud, dtype=torch.float32), ctx.args.num,
                          seed=ctx.args.seed).astype(np.float64)
    params[:, TRANSL] += prepared.centre
    return hand_job(base, "grabnet", params, ctx.data)


@register("optimizer")
def optimizer(ctx: Context, mesh, base: dict) -> dict:
    """The data engine's optimiser, every output, no acceptance filter: the slow quality reference."""
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig

    if "optimizer" not in ctx.loaded:
        ctx.loaded["optimizer"] = GraspSynthesizer(config=SynthesisConfig(batch=ctx.args.num))
    out = ctx.loaded["optimizer"].run(mesh, seed=ctx.args.seed)
    return hand_job(base, "optimizer", join_params(out["global_orient"], out["hand_pose"], out["transl"]), ctx.data)
