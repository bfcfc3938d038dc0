"""Worker of `python -m training.synthesize`: one shard of objects -> accepted grasps on disk.

Lives in its own module so spawned worker processes can import it.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np


def object_seed(seed: int, object_id: str) -> int:
    """Each object's random stream depends only on the run seed and its id (order-independent)."""
    return int.from_bytes(hashlib.sha1(f"{seed}:{object_id}".encode()).digest()[:4], "little")


MODES = ("scratch", "bootstrap", "mix")
POLISH_STEPS = 60  # optimiser steps on a model proposal (bootstrapped mode); from scratch it takes --steps


def synthesize_shard(job: dict) -> dict:
    """Worker: all objects of one shard -> arrays written atomically to job['path']; returns a summary."""
    from training.data.grasps import save_shard

    shard = synthesize_objects(job)
    save_shard(job["path"], **shard, seed=job["seed"])
    return shard_summary(job, shard)


def shard_summary(job: dict, shard: dict) -> dict:
    return {"path": job["path"], "accepted": len(shard["records"]), "objects": len(job["objects"]),
            "skipped": shard["skipped"]}


def synthesize_objects(job: dict) -> dict:
    """The accepted grasps of one shard's objects: ``records``, ``skipped``, ``stats`` (what ``save_shard`` takes).

    ``job["mode"]``: ``scratch`` (default) optimises hands started around the object; ``bootstrap`` polishes the
    model's proposals (``POLISH_STEPS`` steps; ``job["weights"]``: a model folder, default the shipped model) and
    falls back to scratch rounds for an object where the model's proposals were not enough; ``mix`` takes at most
    half of each object's grasps from the model, the rest from scratch. The same acceptance decides for every source;
    each record says which made it (``source``)."""
    import torch

    torch.set_num_threads(1)
    from jhod_core.errors import JHODError
    from jhod_core.geometry.mesh import load_mesh, validate_mesh
    from jhod_core.hand.regions import finger_vertex_ids
    from training.data.corpus import EVERYDAY_SIZE
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig
    from training.synthesize.sdf_grid import SDFGrid

    mode = job.get("mode", "scratch")
    if mode not in MODES:
        raise ValueError(f"synthesis mode must be one of {', '.join(MODES)}, got {mode!r}")
    mix = {} if job.get("type_mix") is None else {"type_probabilities": tuple(job["type_mix"])}
    # job["config"]: other SynthesisConfig fields (benches that compare energies)
    cfg = SynthesisConfig(batch=job["batch"], steps=job["steps"], **mix, **job.get("config", {}))
    syn = _worker_cache.get("syn")
    if syn is None or syn.cfg != cfg:
        syn = _worker_cache["syn"] = GraspSynthesizer(config=cfg)
    fingers = finger_vertex_ids(syn.hand.data)
    records, skipped, stats = [], [], []
    for object_id, mesh_path in job["objects"]:
        t0, cpu0 = time.perf_counter(), time.process_time()
        try:
            mesh = load_mesh(mesh_path)
            validate_mesh(mesh, min_size=0.02, max_size=EVERYDAY_SIZE[1])
        except (JHODError, OSError, ValueError) as exc:
            skipped.append((object_id, str(exc)))
            continue
        # a top-up pass (``job["prior"]``): the object's earlier grasps count towards its number and its quota
        prior = job.get("prior", {}).get(object_id, [])
        wanted = job["per_object"] - len(prior)
        accepted, reasons = [], {}
        tried = {"optimiser": 0, "model": 0}
        timing = {"load": time.perf_counter() - t0, "sdf": 0.0, "propose": 0.0, "optimise": 0.0, "checks": 0.0,
                  "simulation": 0.0, "volume": 0.0}
        hold_faces = _hold_faces(mesh_path, len(mesh.faces))
        rng_seed = object_seed(job["seed"], object_id)
        t = time.perf_counter()
        sdf = SDFGrid(mesh, resolution=cfg.sdf_resolution, seed=rng_seed)
        timing["sdf"] = time.perf_counter() - t
        model_rounds = 0
        for round_ in range(job["rounds"]):
            if len(accepted) >= wanted:
                break
            source = _round_source(mode, round_, job["rounds"], accepted, wanted)
            limit = wanted
            if source == "model" and mode == "mix":  # the model makes at most half of an object's grasps
                limit = min(limit, len(accepted) + (limit + 1) // 2 - sum(a["source"] == "model" for a in accepted))
            t = time.perf_counter()
            if source == "model":
                proposals = _model_proposals(mesh, job["batch"], rng_seed, model_rounds, job.get("weights"),
                                             hold_faces)
                model_rounds += 1
                timing["propose"] += time.perf_counter() - t
                t = time.perf_counter()
                result = syn.run(mesh, seed=rng_seed + round_, sdf=sdf, init=proposals, steps=POLISH_STEPS,
                                 hold_faces=hold_faces)
            else:
                result = syn.run(mesh, seed=rng_seed + round_, sdf=sdf, hold_faces=hold_faces)
            timing["optimise"] += time.perf_counter() - t
            tried[source] += len(result["kind"])
            _check_round(mesh, syn, fingers, result, source, object_id, hold_faces, job, accepted, reasons, timing,
                         limit, sdf, prior)
        records += accepted
        stats.append(dict(object_id=object_id, tried=sum(tried.values()), tried_by_source=tried,
                          accepted=len(accepted), rejected=reasons, seconds=round(time.perf_counter() - t0, 2),
                          cpu_seconds=round(time.process_time() - cpu0, 2),
                          timing={k: round(v, 2) for k, v in timing.items()}, **({"top_up": True} if prior else {})))
    return {"records": records, "skipped": skipped, "stats": stats}


def _round_source(mode: str, round_: int, rounds: int, accepted: list, per_object: int) -> str:
    """Which source proposes a round's candidates: bootstrap takes the model's and falls back to a scratch round
    last; mix alternates, starting with the model, until the model made half of the object's grasps."""
    if mode == "scratch":
        return "optimiser"
    if mode == "bootstrap":
        return "optimiser" if rounds > 1 and round_ == rounds - 1 else "model"
    from_model = sum(a["source"] == "model" for a in accepted)
    return "model" if round_ % 2 == 0 and from_model < (per_object + 1) // 2 else "optimiser"


def _check_round(mesh, syn, fingers, result, source, object_id, hold_faces, job, accepted, reasons, timing, limit,
                 sdf=None, prior=()):
    """Accept the round's candidates, most promising first, until ``limit`` grasps are accepted. On an object with a
    part to prefer, candidates holding it go first and the others are taken only while ``off_hold_allowed`` over
    the object's grasps (``prior``: ``on_hold_part`` of those from earlier passes, then ``accepted``)."""
    import torch

    from training.synthesize.accept import (OFF_HOLD_REASON, check_grasp, contact_on_hold_part, off_hold_allowed,
                                            part_to_prefer)

    with torch.no_grad():
        out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                       hand_pose=torch.tensor(result["hand_pose"]), transl=torch.tensor(result["transl"]))
    verts = out.vertices.numpy().astype(np.float64)
    # most promising first: the force-closure proxy predicts the simulation best (AUC 0.83 vs 0.66 for contact +
    # depth, on 240 checked candidates of 6 everyday objects)
    order = np.argsort(result["e_closure"] + result["max_depth_cm"])
    held = None  # on a part to prefer: whether each candidate holds it, known before the checks
    if part_to_prefer(hold_faces) is not None:
        t = time.perf_counter()
        held = np.array([contact_on_hold_part(mesh, v, hold_faces) for v in verts])
        timing["checks"] += time.perf_counter() - t
        order = order[np.argsort(~held[order], kind="stable")]  # those holding it first
    for i in order:
        if len(accepted) >= limit:
            break
        if held is not None and not held[i] and not off_hold_allowed(
                [*prior, *(a["on_hold_part"] for a in accepted)]):
            reason = OFF_HOLD_REASON  # refused before the checks: no simulation spent on it
        else:
            m, reason = check_grasp(mesh, verts[i], syn.hand.faces, result["hand_pose"][i], syn.frames, fingers,
                                    cache=job["vhacd_cache"], sdf=sdf)
            for stage in ("checks", "simulation", "volume"):
                timing[stage] += m.pop(f"seconds_{stage}", 0.0)
        if reason:
            key = reason if source == "optimiser" else f"{reason} (model)"
            reasons[key] = reasons.get(key, 0) + 1
            continue
        on_hold = (-1 if hold_faces is None else int(held[i]) if held is not None else
                   int(contact_on_hold_part(mesh, verts[i], hold_faces)))
        accepted.append(dict(object_id=object_id, global_orient=result["global_orient"][i],
                             hand_pose=result["hand_pose"][i], transl=result["transl"][i],
                             keypoints=out.keypoints[i].numpy(), kind=str(result["kind"][i]),
                             penetration_depth_cm=m["penetration_depth_cm"],
                             intersection_volume_cm3=m["intersection_volume_cm3"],
                             sim_displacement_6dir_cm=m["sim_displacement_6dir_cm"],
                             digits_in_contact=m["digits_in_contact"],
                             limit_violation_deg=m["limit_violation_deg"], on_hold_part=on_hold, source=source))


def _model_proposals(mesh, count: int, seed: int, round_: int, weights=None, hold_faces=None) -> dict:
    """``count`` refined grasps of the model in folder ``weights`` (None: the shipped one) on ``mesh`` (object
    frame): grasps ``round_ * count ...`` of the object's seed, so every round sees new ones. Loaded once per worker
    process. A model trained with controls is asked, for ``HOLD_SHARE`` of the proposals, to hold the object near a
    point of its hold parts (``hold_faces`` (F,) bool; a new area-weighted point per group of ``HOLD_GROUP``)."""
    from jhod_core.pipeline import collect, iter_grasps, join_batches, load_backend
    from jhod_core.steering import Steering

    model = _worker_cache.get(("model", weights))
    if model is None:
        model = _worker_cache[("model", weights)] = load_backend(weights, "auto", "cpu")
    first = round_ * count
    if not getattr(model, "controls", False) or hold_faces is None or not np.any(hold_faces):
        return collect(iter_grasps(model, mesh, count, seed=seed % 2**31, first=first))
    from jhod_core.geometry.sampling import sample_triangles

    hold_mesh = (mesh.vertices, mesh.faces[np.asarray(hold_faces, dtype=bool)])
    steered = int(round(HOLD_SHARE * count))
    batches = []
    for start in range(0, count, HOLD_GROUP):
        n = min(HOLD_GROUP, count - start)
        steering = None
        if start + n <= steered:  # an area-weighted point of the hold parts, its own seed per group
            point = sample_triangles(*hold_mesh, 1, seed=np.random.SeedSequence([seed % 2**31, round_, start]))[0][0]
            steering = Steering(near=tuple(point))
        grasps = collect(iter_grasps(model, mesh, n, seed=seed % 2**31, first=first + start, steering=steering,
                                     pool=1 if steering else None))
        batches.append({k: v for k, v in grasps.items() if k != "pool_index"})
    return join_batches(batches)


HOLD_SHARE = 0.75  # of a controlled model's proposals aimed at hold parts (people hold most objects there)
HOLD_GROUP = 4


def _hold_faces(mesh_path: str, n_faces: int):
    """(F,) bool hold-part faces of a corpus object with part labels (``<corpus>/parts/<id>.npz``), else None."""
    from pathlib import Path

    from training.data.corpus import load_hold_faces

    hold = load_hold_faces(Path(mesh_path).parent.parent, Path(mesh_path).stem)
    if hold is not None and len(hold) != n_faces:
        raise ValueError(f"{mesh_path}: {len(hold)} face labels for {n_faces} faces")
    return hold


_worker_cache: dict = {}
