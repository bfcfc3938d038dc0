"""The grasp data engine: synthesis quality on a small object, resume, bad meshes, dataset format."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import trimesh

from jhod_core import metrics
from jhod_core.hand.regions import finger_vertex_ids
from training.data.grasps import GraspDataset, hand_params, load_grasps
from training.synthesize.__main__ import main as synthesize_main
from training.synthesize.accept import Thresholds, check_grasp
from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    root = tmp_path_factory.mktemp("objects")
    trimesh.creation.box((0.05, 0.08, 0.04)).export(root / "box.ply")
    trimesh.creation.cylinder(radius=0.025, height=0.12, sections=32).export(root / "cyl.ply")
    (root / "corrupt.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99\n")
    (root / "empty.obj").write_text("# nothing here\n")
    return root


@pytest.mark.slow
def test_synthesis_produces_grasps_that_pass_the_metrics():
    """On a small box, optimised candidates include grasps meeting every acceptance threshold,
    and an independent recomputation of the metrics agrees."""
    mesh = trimesh.creation.box((0.05, 0.08, 0.04))
    syn = GraspSynthesizer(config=SynthesisConfig(batch=8, steps=200))
    result = syn.run(mesh, seed=3)
    with torch.no_grad():
        out = syn.hand(global_orient=torch.tensor(result["global_orient"]), hand_pose=torch.tensor(result["hand_pose"]),
                       transl=torch.tensor(result["transl"]))
    fingers = finger_vertex_ids(syn.hand.data)
    thr = Thresholds()
    accepted = []
    for i in range(8):
        verts = out.vertices[i].numpy().astype(np.float64)
        m, reason = check_grasp(mesh, verts, syn.hand.faces, result["hand_pose"][i], syn.frames, fingers)
        if not reason:
            accepted.append(verts)
    assert len(accepted) >= 1
    for verts in accepted:
        full = metrics.evaluate_grasp(mesh, verts, syn.hand.faces)
        assert full["penetration_depth_cm"] <= thr.penetration_cm
        assert full["intersection_volume_cm3"] <= thr.volume_cm3
        assert full["sim_displacement_6dir_cm"] <= thr.sim_6dir_cm
        assert full["contact"]
        digits = metrics.fingers_in_contact(mesh, verts, fingers)
        assert len(digits) >= thr.min_digits or set(digits) == set(thr.pinch)


@pytest.mark.slow
def test_pinch_starts_give_two_digit_pinches_that_pass_the_acceptance():
    """Hands started as pinches on a small ring keep the other fingers off; some pass the acceptance with thumb and
    index alone (accepted as pinches), every accepted one holds in the simulation, and none touches with two digits
    other than thumb and index."""
    mesh = trimesh.creation.torus(major_radius=0.028, minor_radius=0.008)
    syn = GraspSynthesizer(config=SynthesisConfig(batch=8, steps=200, type_probabilities=(0.0, 0.0, 1.0)))
    result = syn.run(mesh, seed=1)
    assert list(result["kind"]) == ["pinch"] * 8
    with torch.no_grad():
        out = syn.hand(global_orient=torch.tensor(result["global_orient"]), hand_pose=torch.tensor(result["hand_pose"]),
                       transl=torch.tensor(result["transl"]))
    fingers = finger_vertex_ids(syn.hand.data)
    pinches = []
    for i in range(8):
        verts = out.vertices[i].numpy().astype(np.float64)
        m, reason = check_grasp(mesh, verts, syn.hand.faces, result["hand_pose"][i], syn.frames, fingers)
        if reason:
            continue
        assert m["sim_displacement_6dir_cm"] <= Thresholds().sim_6dir_cm
        assert len(m["digits_in_contact"]) >= 3 or set(m["digits_in_contact"]) == {"thumb", "index"}
        if set(m["digits_in_contact"]) == {"thumb", "index"}:
            pinches.append(i)
    assert pinches
    # the three-digit rule alone refuses them
    i = pinches[0]
    _, reason = check_grasp(mesh, out.vertices[i].numpy().astype(np.float64), syn.hand.faces, result["hand_pose"][i],
                            syn.frames, fingers, Thresholds(pinch=()))
    assert reason == "too few digits in contact"


def test_a_bad_type_mix_is_refused_with_one_sentence(objects, tmp_path, capsys):
    for bad in ("1,0", "0.5,0.5,0.5", "a,b,c", "-1,1,1"):
        with pytest.raises(SystemExit):
            run_cli(objects, tmp_path, f"--type-mix={bad}")
        assert "--type-mix takes three shares" in capsys.readouterr().err
    assert not list(tmp_path.glob("shards/*.npz"))  # refused before any work


def run_cli(objects, out, *extra):
    args = ["--objects", str(objects / "box.ply"), str(objects / "cyl.ply"), str(objects / "corrupt.ply"),
            str(objects / "empty.obj"), "--out", str(out), "--workers", "1", "--shard-size", "1",
            "--batch", "2", "--steps", "3", "--per-object", "2", "--seed", "7", *extra]
    assert synthesize_main(args) == 0


def test_bad_meshes_are_skipped_with_a_reason(objects, tmp_path):
    run_cli(objects, tmp_path)
    data = load_grasps(tmp_path)
    reasons = dict(zip(data["skipped_id"], data["skipped_reason"]))
    assert set(reasons) == {"corrupt", "empty"}
    assert all(len(r) > 10 for r in reasons.values())
    log = (tmp_path / "skipped.log").read_text()
    assert "corrupt" in log and "empty" in log
    assert {s["object_id"] for s in data["stats"]} == {"box", "cyl"}


def test_same_seed_same_grasps(objects, tmp_path):
    run_cli(objects, tmp_path / "a")
    run_cli(objects, tmp_path / "b")
    for shard in sorted((tmp_path / "a" / "shards").glob("*.npz")):
        with np.load(shard) as a, np.load(tmp_path / "b" / "shards" / shard.name) as b:
            for key in ("object_id", "global_orient", "hand_pose", "transl", "skipped_id"):
                assert np.array_equal(a[key], b[key]), key


def test_finished_shards_are_never_redone(objects, tmp_path):
    run_cli(objects, tmp_path)
    shards = sorted((tmp_path / "shards").glob("shard_*.npz"))
    assert len(shards) == 4
    stamps = {s.name: s.stat().st_mtime_ns for s in shards}
    with np.load(shards[2]) as z:
        lost = {s["object_id"] for s in json.loads(str(z["stats"]))} | set(z["skipped_id"])
    shards[2].unlink()  # as if the run had been killed before this shard
    time.sleep(0.01)
    run_cli(objects, tmp_path)
    after = {s.name: s.stat().st_mtime_ns for s in sorted((tmp_path / "shards").glob("shard_*.npz"))}
    assert set(after) == set(stamps) - {shards[2].name} | {"shard_00004.npz"}  # numbered after the others
    for name in stamps:
        if name != shards[2].name:
            assert after[name] == stamps[name], f"{name} was rewritten"
    with np.load(tmp_path / "shards" / "shard_00004.npz") as z:
        assert {s["object_id"] for s in json.loads(str(z["stats"]))} | set(z["skipped_id"]) == lost


def test_a_grown_corpus_resumes_by_object(objects, tmp_path):
    """Objects added between starts are synthesized; the finished ones are not redone, whatever their order."""
    run_cli(objects, tmp_path)
    before = load_grasps(tmp_path)
    extra = tmp_path / "more"
    extra.mkdir()
    trimesh.creation.icosphere(radius=0.03).export(extra / "ball.ply")
    args = ["--objects", str(extra / "ball.ply"), str(objects / "box.ply"), str(objects / "cyl.ply"),
            str(objects / "corrupt.ply"), str(objects / "empty.obj"), "--out", str(tmp_path), "--workers", "1",
            "--shard-size", "1", "--batch", "2", "--steps", "3", "--per-object", "2", "--seed", "7"]
    assert synthesize_main(args) == 0
    after = load_grasps(tmp_path)
    expected = sorted([s["object_id"] for s in before["stats"]] + ["ball"])
    assert sorted(s["object_id"] for s in after["stats"]) == expected
    assert len(list((tmp_path / "shards").glob("shard_*.npz"))) == 5


def test_killed_run_resumes(objects, tmp_path):
    """Kill the command after its first shard; the rerun completes without redoing it."""
    cmd = [sys.executable, "-m", "training.synthesize", "--objects", str(objects / "box.ply"), str(objects / "cyl.ply"),
           "--out", str(tmp_path), "--workers", "1", "--shard-size", "1", "--batch", "4", "--steps", "60",
           "--per-object", "1"]
    proc = subprocess.Popen(cmd, cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "shards" / "shard_00000.npz"
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    assert first.exists()
    stamp = first.stat().st_mtime_ns
    subprocess.run(cmd, check=True, cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert first.stat().st_mtime_ns == stamp
    assert (tmp_path / "shards" / "shard_00001.npz").exists()


def test_top_up_asks_objects_short_of_grasps_for_the_missing_ones_once(objects, tmp_path, monkeypatch):
    """--top-up takes only objects earlier shards cover with some but fewer than --per-object grasps, hands each
    its earlier grasps' hold flags and a new random stream, and skips those a top-up already went back to."""
    from jhod_core.io.grasp_shards import save_shard
    from training.synthesize import __main__ as cli

    record = {"global_orient": np.zeros(3), "transl": np.zeros(3), "hand_pose": np.zeros(45),
              "keypoints": np.zeros((21, 3)), "kind": "power", "digits_in_contact": ["thumb"],
              "penetration_depth_cm": 0.0, "intersection_volume_cm3": 0.0, "sim_displacement_6dir_cm": 0.0,
              "limit_violation_deg": 0.0}
    (tmp_path / "shards").mkdir()
    save_shard(tmp_path / "shards" / "shard_00000.npz",
               [{**record, "object_id": "box", "on_hold_part": 1}] + [{**record, "object_id": "cyl"}] * 2,
               [("corrupt", "no mesh")], [{"object_id": "box", "accepted": 1, "rejected": {}},
                                          {"object_id": "cyl", "accepted": 2, "rejected": {}}], seed=0)
    jobs = []
    monkeypatch.setattr(cli, "_map", lambda js, workers: jobs.extend(js) or [])
    args = ["--objects", *(str(objects / n) for n in ("box.ply", "cyl.ply", "corrupt.ply")), "--out", str(tmp_path),
            "--per-object", "2", "--shard-size", "4", "--workers", "1", "--top-up"]
    assert cli.main(args) == 0
    assert [[oid for oid, _ in j["objects"]] for j in jobs] == [["box"]]
    assert jobs[0]["prior"] == {"box": [1]} and jobs[0]["seed"] == 1
    assert jobs[0]["path"].endswith("shard_00001.npz")
    save_shard(tmp_path / "shards" / "shard_00001.npz", [], [],
               [{"object_id": "box", "accepted": 0, "rejected": {"simulation": 16}, "top_up": True}], seed=1)
    jobs.clear()
    assert cli.main(args) == 0
    assert jobs == []  # box was gone back to once; cyl is full; corrupt was skipped


def test_dataset_loader_shapes():
    rng = np.random.default_rng(0)
    g = 6
    grasps = {"object_id": np.array(["a", "b", "a", "c", "b", "zz"]), "global_orient": rng.normal(size=(g, 3)),
              "hand_pose": rng.normal(size=(g, 45)), "transl": rng.normal(size=(g, 3)),
              "keypoints": rng.normal(size=(g, 21, 3))}
    ids = np.array(["a", "b", "c", "d"])
    points = rng.normal(size=(4, 2048, 3)).astype(np.float16)
    ds = GraspDataset(grasps, ids, points, split_ids={"a", "b", "d"})
    assert len(ds) == 4  # c is outside the split, zz has no object
    pts, params = ds[0]
    assert pts.shape == (2048, 3) and params.shape == (51,) and pts.dtype == np.float32
    assert np.allclose(params, hand_params(grasps)[0])
    p, q, extra = ds.sample_batch(np.random.default_rng(1), 5, object_only=3)
    assert p.shape == (5, 2048, 3) and q.shape == (5, 51) and extra.shape == (3, 2048, 3)
    p2, q2, _ = ds.sample_batch(np.random.default_rng(1), 5, object_only=3)
    assert np.array_equal(q, q2)
    assert set(ids[ds.object_only_index]) == {"a", "b", "d"}


GRASP_KEYS = ("object_id", "global_orient", "hand_pose", "transl", "keypoints", "source", "skipped_id")


def test_ray_executor_writes_the_same_shards_as_local_processes(objects, tmp_path):
    """`--executor ray` on a local Ray instance: the same shards, grasp for grasp, as the local executor."""
    ray = pytest.importorskip("ray", reason="the Ray executor test needs Ray (pip install -e '.[dev]')")
    run_cli(objects, tmp_path / "local")
    try:
        run_cli(objects, tmp_path / "ray", "--executor", "ray", "--workers", "2")
    finally:
        ray.shutdown()
    local = sorted(p.name for p in (tmp_path / "local" / "shards").glob("*.npz"))
    assert local == sorted(p.name for p in (tmp_path / "ray" / "shards").glob("*.npz")) and len(local) == 4
    for name in local:
        with np.load(tmp_path / "local" / "shards" / name) as a, np.load(tmp_path / "ray" / "shards" / name) as b:
            for key in GRASP_KEYS:
                assert np.array_equal(a[key], b[key]), (name, key)


def test_ray_executor_without_ray_says_how_to_get_it(objects, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(SystemExit, match="pip install"):
        run_cli(objects, tmp_path, "--executor", "ray")


@pytest.mark.slow
def test_bootstrapped_synthesis_accepts_polished_model_grasps(tmp_path):
    """The shipped model proposes, the optimiser polishes, the same acceptance keeps some: on a small can the
    bootstrapped mode makes accepted grasps, recorded as the model's, that pass an independent recheck."""
    from training.synthesize.worker import synthesize_objects

    mesh = trimesh.creation.cylinder(radius=0.03, height=0.11, sections=32)
    mesh.export(tmp_path / "can.ply")
    job = {"objects": [("can", str(tmp_path / "can.ply"))], "seed": 0, "per_object": 2, "rounds": 1, "batch": 8,
           "steps": 200, "mode": "bootstrap", "vhacd_cache": str(tmp_path / "vhacd")}
    shard = synthesize_objects(job)
    assert len(shard["records"]) >= 1
    assert {r["source"] for r in shard["records"]} == {"model"}
    assert shard["stats"][0]["tried_by_source"] == {"optimiser": 0, "model": 8}
    syn = GraspSynthesizer()
    fingers = finger_vertex_ids(syn.hand.data)
    for r in shard["records"]:
        with torch.no_grad():
            out = syn.hand(global_orient=torch.tensor(r["global_orient"][None]),
                           hand_pose=torch.tensor(r["hand_pose"][None]), transl=torch.tensor(r["transl"][None]))
        full = metrics.evaluate_grasp(mesh, out.vertices[0].numpy().astype(np.float64), syn.hand.faces)
        assert full["penetration_depth_cm"] <= Thresholds().penetration_cm
        assert full["sim_displacement_6dir_cm"] <= Thresholds().sim_6dir_cm
        assert len(metrics.fingers_in_contact(mesh, out.vertices[0].numpy().astype(np.float64), fingers)) >= 3


def test_mixed_synthesis_records_both_sources_and_the_model_makes_at_most_half(objects, tmp_path):
    run_cli(objects, tmp_path, "--mode", "mix", "--per-object", "3", "--rounds", "2")
    data = load_grasps(tmp_path)
    assert set(data["source"]) <= {"model", "optimiser"}
    for object_id in set(data["object_id"]):
        sources = data["source"][data["object_id"] == object_id]
        assert (sources == "model").sum() <= 2  # ceil(3 / 2)
    for stats in data["stats"]:
        assert stats["tried_by_source"]["model"] == 2 and stats["tried_by_source"]["optimiser"] in (0, 2)


def test_edge_anchors_sit_on_sharp_edges_facing_out_between_their_faces():
    from training.synthesize.optimizer import edge_anchors

    box = trimesh.creation.box((0.2, 0.1, 0.3))
    points, directions = edge_anchors(box, 64, seed=0)
    half = np.array([0.1, 0.05, 0.15])
    on_faces = np.isclose(np.abs(points), half, atol=1e-9)
    assert (on_faces.sum(1) >= 2).all()  # on two faces at once: an edge
    assert np.allclose(np.linalg.norm(directions, axis=1), 1.0)
    expected = np.where(on_faces, np.sign(points), 0.0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(directions, expected, atol=1e-9)  # the bisector of the two faces, outwards
    assert edge_anchors(trimesh.creation.icosphere(subdivisions=3), 8, seed=0) is None  # nothing sharp on a ball


def test_the_distance_grid_only_skips_points_outside_so_the_volume_is_unchanged():
    from training.synthesize.sdf_grid import SDFGrid

    mesh = trimesh.creation.annulus(r_min=0.03, r_max=0.036, height=0.1)  # a thin-walled cup
    sdf = SDFGrid(mesh, resolution=64, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        hand = trimesh.creation.box((0.05, 0.03, 0.06))
        hand.apply_translation(rng.normal(0, 0.02, 3) + [0.033, 0, 0])
        exact = metrics.intersection_volume(mesh, hand)
        assert metrics.intersection_volume(mesh, hand, may_be_inside=sdf.may_be_inside) == exact
    from jhod_core.geometry.inside import contains

    points = rng.uniform(-0.06, 0.06, (20000, 3))
    inside = contains(mesh, points)
    assert sdf.may_be_inside(points)[inside].all()  # never drops a point that is inside


def test_the_distance_grid_is_exact_near_the_surface_and_within_its_error_bound_farther():
    """Grid points far from the surface measure to a subset of the samples (fast inside round objects)."""
    from scipy.spatial import cKDTree

    from jhod_core.geometry.sampling import sample_surface
    from training.synthesize.sdf_grid import EXACT_WITHIN, SDFGrid

    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.06)  # a ball: its centre is far from every sample
    sdf = SDFGrid(mesh, resolution=32, seed=0)
    axis = np.linspace(0.0, 1.0, 32)
    grid = sdf.lo + sdf.size * np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    points, _, _ = sample_surface(mesh, 40_000, seed=0)
    exact, _ = cKDTree(points).query(grid)
    got = np.abs(sdf.values.numpy()[0, 0].transpose(2, 1, 0).reshape(-1))
    near = exact < EXACT_WITHIN
    assert near.any() and (~near).any()
    assert np.allclose(got[near], exact[near], atol=1e-6)
    assert np.all(got[~near] >= exact[~near] - 1e-6)  # a subset is never nearer
    assert np.all(got[~near] - exact[~near] <= sdf.error_bound)
    assert (got[~near] - exact[~near]).max() > 0  # the subset was used


def test_model_proposals_come_from_the_asked_weights(tmp_path):
    """--weights: bootstrap proposals come from that model folder (here a tiny random one), not the shipped model."""
    from tests.tiny_model import write_tiny_weights
    from training.synthesize.worker import _model_proposals

    mesh = trimesh.creation.box((0.05, 0.05, 0.08))
    tiny = _model_proposals(mesh, 2, 0, 0, str(write_tiny_weights(tmp_path)))
    shipped = _model_proposals(mesh, 2, 0, 0)
    assert tiny["transl"].shape == shipped["transl"].shape == (2, 3)
    assert np.abs(tiny["hand_pose"] - shipped["hand_pose"]).max() > 1e-3


def test_a_controlled_model_proposes_on_hold_parts(tmp_path, monkeypatch):
    """Bootstrap proposals of a model with controls: groups of HOLD_GROUP are asked to hold a point of the hold
    parts (here: the top half of a box) until HOLD_SHARE of them are; the same call gives the same proposals."""
    import jhod_core.pipeline as pipeline
    from tests.tiny_model import write_tiny_weights
    from training.synthesize import worker

    mesh = trimesh.creation.box((0.05, 0.05, 0.12)).subdivide()  # no face spans both halves
    hold = mesh.triangles_center[:, 2] > 0.0
    folder = str(write_tiny_weights(tmp_path, controls=True))
    calls, original = [], pipeline.iter_grasps

    def spy(*args, **kwargs):
        calls.append(kwargs.get("steering"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "iter_grasps", spy)
    a = worker._model_proposals(mesh, 12, 5, 0, folder, hold)
    assert a["transl"].shape == (12, 3) and "pool_index" not in a
    targets = np.array([s.near for s in calls if s is not None])
    assert len(calls) == 3 and len(targets) == 2  # 3/4 of 12 is 9: the first two groups of 4 (8 grasps)
    _, distance, _ = trimesh.proximity.closest_point(mesh, targets)
    assert np.all(distance < 1e-6) and np.all(targets[:, 2] > 0.0) and len(np.unique(targets, axis=0)) == 2
    b = worker._model_proposals(mesh, 12, 5, 0, folder, hold)
    np.testing.assert_array_equal(a["transl"], b["transl"])


def test_max_size_keeps_only_small_corpus_objects():
    """``--max-size`` (the pinch run's filter) keeps the corpus objects whose longest side is at most that, by the
    manifest's extents, and only those."""
    from training.data.corpus import load_manifest
    from training.synthesize.__main__ import list_objects

    rows = {r["id"]: max(r["extent_x"], r["extent_y"], r["extent_z"]) for r in load_manifest("data/objects_everyday")
            if r["split"] == "val"}
    small = list_objects(["data/objects_everyday"], "val", None, max_size=0.10)
    assert small and {oid for oid, _ in small} == {oid for oid, size in rows.items() if size <= 0.10}
    assert len(list_objects(["data/objects_everyday"], "val", None)) == len(rows) > len(small)


def test_surround_centre_of_cans_balls_handles_but_not_plates_or_big_balls():
    """Hands surround cans, phones and handles around their long axis and balls or cubes around their centre; objects
    wider than a hand spans (plates, big balls), flat ones (dishes) and hollow ones (cups) are held at rims, walls and
    edges instead."""
    from jhod_core.geometry.sampling import sample_surface
    from training.synthesize.optimizer import surround_centre

    def centre_of(mesh):
        return surround_centre(sample_surface(mesh, 2048, seed=0)[0])

    centre, axis = centre_of(trimesh.creation.cylinder(radius=0.038, height=0.12, sections=48))  # a can
    assert np.allclose(centre, 0, atol=3e-3) and abs(axis[2]) > 0.99
    assert abs(centre_of(trimesh.creation.cylinder(radius=0.015, height=0.12))[1][2]) > 0.99  # a handle
    assert abs(centre_of(trimesh.creation.box((0.07, 0.15, 0.008)))[1][1]) > 0.99  # a phone
    centre, axis = centre_of(trimesh.creation.icosphere(subdivisions=3, radius=0.07))
    assert axis is None and np.allclose(centre, 0, atol=3e-3)
    assert centre_of(trimesh.creation.box((0.08, 0.08, 0.08)))[1] is None
    assert centre_of(trimesh.creation.box((0.25, 0.25, 0.02))) is None  # a plate
    assert centre_of(trimesh.creation.cylinder(radius=0.068, height=0.045, sections=48)) is None  # a dish: its rim
    from training.synthesize.sdf_grid import SDFGrid

    outer = trimesh.creation.cylinder(radius=0.04, height=0.09, sections=48)
    cup = trimesh.boolean.difference([outer, trimesh.creation.cylinder(radius=0.034, height=0.09, sections=48)
                                      .apply_translation((0, 0, 0.01))], engine="manifold")
    assert surround_centre(sample_surface(cup, 2048, seed=0)[0], SDFGrid(cup, resolution=32)) is None  # hollow
    assert surround_centre(sample_surface(outer, 2048, seed=0)[0], SDFGrid(outer, resolution=32)) is not None
    assert centre_of(trimesh.creation.icosphere(subdivisions=3, radius=0.115)) is None  # a football


def test_surround_is_zero_around_the_axis_one_on_a_side_and_moves_the_pads():
    """The surround term: pads around a can's axis score ~0, pads on one side ~1, whatever their height along the axis;
    and unlike the closure term's grid normals it has a gradient that spreads one-sided pads round the object."""
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ring = np.stack([0.04 * np.cos(angles), 0.04 * np.sin(angles), np.linspace(-0.05, 0.05, 8)], 1)
    side = np.stack([np.full(8, 0.04), np.linspace(-0.01, 0.01, 8), np.linspace(-0.05, 0.05, 8)], 1)
    contacts = torch.tensor(np.stack([ring, side]), dtype=torch.float32, requires_grad=True)
    centre = (torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))
    energy = GraspSynthesizer._surround(contacts, torch.ones(2, 8), centre)
    assert energy[0] < 1e-6 and energy[1] > 0.95
    energy.sum().backward()
    assert contacts.grad[1].norm() > 0  # pads on one side are pushed round
    inactive = torch.ones(2, 8)
    inactive[0, 4:] = 0  # half a ring counts only where active
    assert GraspSynthesizer._surround(contacts, inactive, centre)[0] > 0.3


@pytest.mark.slow
def test_hands_on_a_can_surround_it():
    """On a can, the optimiser with the surround term ends with pads far more evenly round the axis than without it,
    from the same starts."""
    can = trimesh.creation.cylinder(radius=0.036, height=0.12, sections=48)
    centre = (torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))
    scores = {}
    for weight in (0.0, 30.0):
        syn = GraspSynthesizer(config=SynthesisConfig(batch=6, steps=120, w_surround=weight,
                                                      type_probabilities=(1.0, 0.0, 0.0)))
        result = syn.run(can, seed=0)
        with torch.no_grad():
            out = syn.hand(global_orient=torch.tensor(result["global_orient"]),
                           hand_pose=torch.tensor(result["hand_pose"]), transl=torch.tensor(result["transl"]))
            pads = out.vertices[:, syn.contact_ids]
            scores[weight] = float(GraspSynthesizer._surround(pads, torch.ones(pads.shape[:2]), centre).mean())
    assert scores[30.0] < 0.6 * scores[0.0]


def test_families_keeps_only_corpus_objects_of_those_families(tmp_path):
    """``--families`` (the run on cans, jars, balls and boxes) keeps exactly the corpus objects of those families; a
    filter that matches nothing stops with one sentence and writes nothing."""
    from training.data.corpus import load_manifest
    from training.synthesize.__main__ import list_objects

    rows = {r["id"]: r["family"] for r in load_manifest("data/objects_everyday") if r["split"] == "val"}
    chosen = list_objects(["data/objects_everyday"], "val", None, families={"can", "ball"})
    assert chosen and {oid for oid, _ in chosen} == {oid for oid, fam in rows.items() if fam in ("can", "ball")}
    with pytest.raises(SystemExit):
        synthesize_main(["--objects", "data/objects_everyday", "--split", "val", "--families", "teapot",
                         "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
