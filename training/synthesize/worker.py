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


def synthesize_shard(job: dict) -> dict:
    """Worker: all objects of one shard -> arrays written atomically to job['path']."""
    import torch

    torch.set_num_threads(1)
    from jhod_core.errors import JHODError
    from jhod_core.geometry.mesh import load_mesh, validate_mesh
    from jhod_core.hand.regions import finger_vertex_ids
    from training.data.corpus import EVERYDAY_SIZE
    from training.data.grasps import save_shard
    from training.synthesize.accept import check_grasp, contact_on_hold_part
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig
    from training.synthesize.sdf_grid import SDFGrid

    cfg = SynthesisConfig(batch=job["batch"], steps=job["steps"])
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
        accepted, reasons, tried = [], {}, 0
        timing = {"load": time.perf_counter() - t0, "sdf": 0.0, "optimise": 0.0, "checks": 0.0, "simulation": 0.0,
                  "volume": 0.0}
        hold_faces = _hold_faces(mesh_path, len(mesh.faces))
        rng_seed = object_seed(job["seed"], object_id)
        t = time.perf_counter()
        sdf = SDFGrid(mesh, resolution=cfg.sdf_resolution, seed=rng_seed)
        timing["sdf"] = time.perf_counter() - t
        for round_ in range(job["rounds"]):
            if len(accepted) >= job["per_object"]:
                break
            t = time.perf_counter()
            result = syn.run(mesh, seed=rng_seed + round_, sdf=sdf, hold_faces=hold_faces)
            timing["optimise"] += time.perf_counter() - t
            tried += len(result["kind"])
            with torch.no_grad():
                out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                               hand_pose=torch.tensor(result["hand_pose"]), transl=torch.tensor(result["transl"]))
            order = np.argsort(result["e_contact"] + 10 * result["max_depth_cm"])  # most promising first
            for i in order:
                if len(accepted) >= job["per_object"]:
                    break
                m, reason = check_grasp(mesh, out.vertices[i].numpy().astype(np.float64), syn.hand.faces,
                                        result["hand_pose"][i], syn.frames, fingers, cache=job["vhacd_cache"])
                for stage in ("checks", "simulation", "volume"):
                    timing[stage] += m.pop(f"seconds_{stage}", 0.0)
                if reason:
                    reasons[reason] = reasons.get(reason, 0) + 1
                    continue
                on_hold = -1 if hold_faces is None else int(contact_on_hold_part(
                    mesh, out.vertices[i].numpy().astype(np.float64), hold_faces))
                accepted.append(dict(object_id=object_id, global_orient=result["global_orient"][i],
                                     hand_pose=result["hand_pose"][i], transl=result["transl"][i],
                                     keypoints=out.keypoints[i].numpy(), kind=str(result["kind"][i]),
                                     penetration_depth_cm=m["penetration_depth_cm"],
                                     intersection_volume_cm3=m["intersection_volume_cm3"],
                                     sim_displacement_6dir_cm=m["sim_displacement_6dir_cm"],
                                     digits_in_contact=m["digits_in_contact"],
                                     limit_violation_deg=m["limit_violation_deg"], on_hold_part=on_hold))
        records += accepted
        stats.append(dict(object_id=object_id, tried=tried, accepted=len(accepted), rejected=reasons,
                          seconds=round(time.perf_counter() - t0, 2),
                          cpu_seconds=round(time.process_time() - cpu0, 2),
                          timing={k: round(v, 2) for k, v in timing.items()}))
    save_shard(job["path"], records, skipped, stats, seed=job["seed"])
    return {"path": job["path"], "accepted": len(records), "objects": len(job["objects"]), "skipped": skipped}




def _hold_faces(mesh_path: str, n_faces: int):
    """(F,) bool hold-part faces of a corpus object with part labels (``<corpus>/parts/<id>.npz``), else None."""
    from pathlib import Path

    parts = Path(mesh_path).parent.parent / "parts" / f"{Path(mesh_path).stem}.npz"
    if not parts.is_file():
        return None
    with np.load(parts, allow_pickle=False) as z:
        hold = z["part_hold"][z["face_part"]]
    if len(hold) != n_faces:
        raise ValueError(f"{parts}: {len(hold)} face labels for {n_faces} faces")
    return hold


_worker_cache: dict = {}
