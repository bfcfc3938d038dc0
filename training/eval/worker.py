"""Metric worker of `python -m training.eval`: one object's hands -> per-grasp metric rows.

Lives in its own module so spawned worker processes can import it.
"""

from __future__ import annotations

import numpy as np


def measure_object(job: dict) -> list[dict]:
    """Metrics of every hand in ``job['vertices']`` against ``job['mesh']`` (a path or (vertices, faces))."""
    import trimesh

    from jhod_core import metrics
    from jhod_core.geometry.mesh import load_mesh
    from jhod_core.hand import load_hand_data
    from jhod_core.hand.joint_limits import anatomical_frames, limit_violation
    from jhod_core.hand.regions import finger_vertex_ids
    from training.synthesize.accept import accepted

    mesh = job["mesh"]
    mesh = load_mesh(mesh) if isinstance(mesh, str) else trimesh.Trimesh(*mesh, process=False)
    data = load_hand_data()
    fingers = finger_vertex_ids(data)
    frames = anatomical_frames(data.rest_joints)
    hold_faces = None
    if isinstance(job["mesh"], str):  # corpus objects with a part to prefer (a handle, a grip): does the hand hold it?
        from training.synthesize.accept import part_to_prefer
        from training.synthesize.worker import _hold_faces

        hold_faces = part_to_prefer(_hold_faces(job["mesh"], len(mesh.faces)))
    rows = []
    for i, (verts, pose) in enumerate(zip(job["vertices"], job["hand_pose"])):
        m = metrics.evaluate_grasp(mesh, verts, data.closed_faces, sim=job["sim"],
                                   protocol=job.get("protocol", "jhod"))
        digits = metrics.fingers_in_contact(mesh, verts, fingers)
        m["digits_in_contact"] = len(digits)
        m["limit_violation_deg"] = float(np.rad2deg(limit_violation(np.asarray(pose), frames).max()))
        m["accepted"] = accepted(m, digits)  # the data engine's whole acceptance, as one bar
        if hold_faces is not None:
            from training.synthesize.accept import contact_on_hold_part

            m["on_hold_part"] = contact_on_hold_part(mesh, np.asarray(verts, dtype=np.float64), hold_faces)
        rows.append({"object_id": job["object_id"], "split": job["split"], "method": job["method"], "grasp": i, **m})
    return rows
