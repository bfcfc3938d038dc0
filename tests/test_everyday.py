"""Everyday object families built from labelled parts (training.data.everyday, corpus v2)."""

import numpy as np
import pytest

from training.data.everyday import FAMILIES, make_everyday

# families whose people hold them somewhere and never elsewhere: (held parts, never-held parts)
LABELLED = {"kitchen_knife": ({"handle"}, {"blade"}), "hammer": ({"handle"}, {"head"}),
            "screwdriver": ({"handle"}, {"shaft"}), "frying_pan": ({"handle"}, {"pan"}),
            "bottle_v2": ({"body"}, {"cap"}), "brush": ({"handle"}, {"head"}),
            "wrench": ({"shaft"}, {"jaw", "ring"}), "cutlery": ({"handle"}, {"tines"})}  # cutlery seed 0: a fork


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_builds_closed_labelled_objects_of_graspable_size(family):
    for seed in range(3):
        obj = make_everyday(family, seed)
        mesh = obj.mesh
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, (family, seed)
        size = np.ptp(mesh.vertices, axis=0).max()
        assert 0.03 <= size <= 0.40, (family, seed, size)
        assert obj.face_part.shape == (len(mesh.faces),) and obj.face_part.max() < len(obj.part_names)
        assert len(obj.part_hold) == len(obj.part_names) and obj.hold_faces.any()  # every object can be held
    again = make_everyday(family, 1)
    assert np.array_equal(make_everyday(family, 1).mesh.vertices, again.mesh.vertices)  # same seed, same object


@pytest.mark.parametrize("family", sorted(LABELLED))
def test_parts_people_hold_and_parts_they_do_not(family):
    held, never = LABELLED[family]
    obj = make_everyday(family, 0)
    names = dict(zip(obj.part_names, obj.part_hold))
    assert {n for n, h in names.items() if h} >= held and not ({n for n, h in names.items() if h} & never)
    for name in held | never:  # each labelled part owns a real share of the surface
        faces = obj.face_part == obj.part_names.index(name)
        assert obj.mesh.area_faces[faces].sum() > 0.02 * obj.mesh.area


def test_knife_labels_follow_the_geometry():
    """The blade faces lie beyond the handle along the knife's axis."""
    obj = make_everyday("kitchen_knife", 2)
    centres = obj.mesh.triangles_center
    blade = obj.face_part == obj.part_names.index("blade")
    assert np.median(centres[blade, 2]) > np.median(centres[~blade, 2]) + 0.05


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown everyday family"):
        make_everyday("teapot", 0)


def test_everyday_corpus_keeps_parts_with_meshes_and_holds_families_out(tmp_path):
    from training.data.corpus import (build_corpus, load_manifest, load_object_mesh, load_object_parts,
                                      load_object_points, plan_everyday, split_ids)

    specs = plan_everyday(seed=0, per_family=2, families=["kitchen_knife", "kettle"])
    report = build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    assert report.built == 4 and not report.skipped
    rows = {r["id"]: r for r in load_manifest(tmp_path)}
    assert set(rows) == {"ev_kitchen_knife_0000", "ev_kitchen_knife_0001", "ev_kettle_0000", "ev_kettle_0001"}
    assert split_ids(tmp_path, "ood_family") == ["ev_kettle_0000", "ev_kettle_0001"]  # a held-out family
    for object_id in rows:
        mesh = load_object_mesh(tmp_path, object_id)
        parts = load_object_parts(tmp_path, object_id)
        assert mesh.is_watertight and parts["face_part"].shape == (len(mesh.faces),)
        assert np.allclose((mesh.bounds[0] + mesh.bounds[1]) / 2, 0.0, atol=1e-6)  # object-centric frame
    knife = load_object_mesh(tmp_path, "ev_kitchen_knife_0000")
    parts = load_object_parts(tmp_path, "ev_kitchen_knife_0000")
    blade = parts["face_part"] == parts["part_names"].index("blade")
    assert not parts["part_hold"][parts["part_names"].index("blade")]
    assert np.median(knife.triangles_center[blade, 2]) > np.median(knife.triangles_center[~blade, 2])  # still aligned
    ids, points, _ = load_object_points(tmp_path)
    assert len(ids) == 4 and points.shape[1:] == (2048, 3)
    assert build_corpus(tmp_path, specs, seed=0, workers=1, progress=False).built == 0  # resumed: nothing rebuilt


def test_contact_on_hold_part_and_part_aware_starts():
    """A hand touching a knife's handle holds it there, one touching the blade does not; starts on hold parts
    face those parts."""
    import trimesh

    from training.synthesize.accept import contact_on_hold_part
    from training.synthesize.optimizer import GraspSynthesizer, SynthesisConfig

    knife = make_everyday("kitchen_knife", 0)
    mesh, hold = knife.mesh, knife.hold_faces
    blade = ~hold
    for faces, expected in ((hold, True), (blade, False)):
        centre = mesh.triangles_center[faces].mean(axis=0)
        _, _, face = trimesh.proximity.closest_point(mesh, centre[None])
        touching = mesh.triangles_center[face[0]] + 0.001 * mesh.face_normals[face[0]]  # 1 mm off the surface
        hand = touching + np.random.default_rng(0).normal(scale=0.0003, size=(20, 3))
        assert contact_on_hold_part(mesh, hand, hold) is expected
    assert contact_on_hold_part(mesh, np.full((5, 3), 1.0), hold) is False  # touching nothing

    syn = GraspSynthesizer(config=SynthesisConfig(batch=12, steps=1))
    surface = mesh.sample(2000)
    anchors = (mesh.triangles_center[hold], mesh.face_normals[hold])
    rot, transl, _, on_part = syn.initial_params(surface, ["power"] * 12, np.random.default_rng(0), anchors)
    assert on_part.mean() > 0.5
    handle_z = np.median(mesh.triangles_center[hold, 2])
    blade_z = np.median(mesh.triangles_center[blade, 2])
    # most hands start nearer the handle than the blade along the knife
    assert np.mean(np.abs(transl[:, 2] - handle_z) < np.abs(transl[:, 2] - blade_z)) >= 0.6


def test_shards_without_hold_labels_read_as_unknown(tmp_path):
    from jhod_core.io.grasp_shards import load_grasps, save_shard, select_grasps

    (tmp_path / "shards").mkdir()
    record = {"object_id": "x", "global_orient": np.zeros(3), "transl": np.zeros(3), "hand_pose": np.zeros(45),
              "keypoints": np.zeros((21, 3)), "kind": "power", "digits_in_contact": ["thumb"],
              "penetration_depth_cm": 0.0, "intersection_volume_cm3": 0.0, "sim_displacement_6dir_cm": 0.0,
              "limit_violation_deg": 0.0}
    save_shard(tmp_path / "shards" / "shard_00000.npz", [record], [], [], seed=0)
    save_shard(tmp_path / "shards" / "shard_00001.npz", [{**record, "on_hold_part": 1, "source": "model"}],
               [("y", "too flat"), ("z", "too small")], [], seed=0)
    grasps = load_grasps(tmp_path)
    assert grasps["on_hold_part"].tolist() == [-1, 1]
    # selecting grasps keeps the skipped objects whole, even when there are as many of them as grasps
    picked = select_grasps(grasps, grasps["source"] == "model")
    assert picked["on_hold_part"].tolist() == [1] and picked["skipped_id"].tolist() == ["y", "z"]


def test_evaluation_says_whether_grasps_hold_a_hold_part(tmp_path):
    """training.eval's metric worker adds on_hold_part for corpus objects with a part to prefer: a hand resting on
    a knife's handle holds it there, the same hand on the blade does not; a ball (one part) says nothing."""
    import trimesh

    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.hand.regions import palmar_pads
    from training.data.corpus import build_corpus, load_object_mesh, load_object_parts, plan_everyday
    from training.eval.worker import measure_object

    build_corpus(tmp_path, plan_everyday(seed=0, per_family=1, families=["kitchen_knife", "ball"]), seed=0,
                 workers=1, progress=False)
    mesh = load_object_mesh(tmp_path, "ev_kitchen_knife_0000")
    parts = load_object_parts(tmp_path, "ev_kitchen_knife_0000")
    hold = parts["part_hold"][parts["face_part"]]
    data = load_hand_data()
    vertices, _, _ = numpy_forward(data, np.zeros((1, 3)), np.zeros((1, 45)), np.zeros((1, 3)))
    palm = vertices[0, palmar_pads(data)[0]].mean(axis=0)
    hands = []
    for faces in (hold, ~hold):
        centre = mesh.triangles_center[faces].mean(axis=0)
        _, _, face = trimesh.proximity.closest_point(mesh, centre[None])
        target = mesh.triangles_center[face[0]] + 0.001 * mesh.face_normals[face[0]]
        hands.append(vertices[0] - palm + target)
    rows = measure_object({"object_id": "ev_kitchen_knife_0000", "split": "test", "method": "jhod", "sim": False,
                           "mesh": str(tmp_path / "meshes" / "ev_kitchen_knife_0000.ply"), "vertices": hands,
                           "hand_pose": np.zeros((2, 45))})
    assert [r["on_hold_part"] for r in rows] == [True, False]
    ball = load_object_mesh(tmp_path, "ev_ball_0000")
    rows = measure_object({"object_id": "ev_ball_0000", "split": "test", "method": "jhod", "sim": False,
                           "mesh": str(tmp_path / "meshes" / "ev_ball_0000.ply"),
                           "vertices": [vertices[0] - palm + ball.vertices[0]], "hand_pose": np.zeros((1, 45))})
    assert "on_hold_part" not in rows[0]
    # and `training.eval --with-hold-part` picks the knife, not the ball
    from training.synthesize.accept import object_part_to_prefer

    assert object_part_to_prefer(str(tmp_path), "ev_kitchen_knife_0000") is not None
    assert object_part_to_prefer(str(tmp_path), "ev_ball_0000") is None
    assert object_part_to_prefer(str(tmp_path), "x") is None


def test_balance_palms_drops_only_the_models_surplus_of_palms_on_caps():
    """Per upright family, model-proposed hands with the palm up or down are thinned to the optimiser's share;
    sideways hands, the optimiser's hands and objects that do not stand upright keep all theirs."""
    from jhod_core.hand import load_hand_data, numpy_forward
    from jhod_core.steering import palm_directions
    from training.data.grasps import balance_palms, palms_up_or_down

    _, _, rest = numpy_forward(load_hand_data(), np.zeros((1, 3)), np.zeros((1, 45)), np.zeros((1, 3)))
    p0 = palm_directions(rest)[0]

    def facing(target):  # the rest hand's keypoints turned so that its palm faces ``target``
        axis = np.cross(p0, target)
        s, c = np.linalg.norm(axis), float(p0 @ target)
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]]) / max(s, 1e-12)
        return rest[0] @ (np.eye(3) + s * k + (1 - c) * k @ k).T

    up, side = facing(np.array([0.0, 0.0, 1.0])), facing(np.array([1.0, 0.0, 0.0]))
    rows = [("can", "optimiser", up)] + [("can", "optimiser", side)] * 3 + [("can", "model", up)] * 4 + \
        [("can", "model", side)] * 3 + [("blob", "model", up)] * 2
    grasps = {"object_id": np.array([o for o, _, _ in rows]), "source": np.array([s for _, s, _ in rows]),
              "keypoints": np.stack([k for _, _, k in rows])}
    assert palms_up_or_down(grasps["keypoints"]).tolist() == [k is up for _, _, k in rows]
    manifest = {"can": {"family": "can", "source": "training.data.everyday.can"},
                "blob": {"family": "blob", "source": "pybullet"}}
    keep = balance_palms(grasps, manifest, seed=0)
    # the optimiser's share on cans is 1/4, so 3 sideways model hands allow 1 facing up: 3 of the 4 go
    assert (~keep).sum() == 3 and set(np.flatnonzero(~keep)) <= {4, 5, 6, 7}
    assert keep[:4].all() and keep[8:].all()
    assert (balance_palms(grasps, manifest, seed=0) == keep).all()


def test_a_fine_handle_is_still_a_part_to_prefer_and_the_quota_keeps_most_grasps_on_it():
    """A knife's handle has over 90 % of its faces (synthesis once took that for the whole object and did not prefer
    it); off-hold grasps stay at most a quarter of an object's grasps at every count."""
    from training.synthesize.accept import off_hold_allowed, part_to_prefer

    knife = make_everyday("kitchen_knife", 0)
    assert knife.hold_faces.mean() > 0.9 and part_to_prefer(knife.hold_faces) is not None
    assert part_to_prefer(np.ones(10, bool)) is None and part_to_prefer(None) is None
    assert not off_hold_allowed([]) and not off_hold_allowed([1, 1])
    assert off_hold_allowed([1, 1, 1]) and not off_hold_allowed([1, 1, 1, 0, 1, 1])
    assert off_hold_allowed([1, 1, 1, 0, 1, 1, 1])


def _candidates_with_holds(monkeypatch, holds):
    """A synthesis round of ``len(holds)`` candidates (candidate i at x = i m; the most promising first) whose
    contact is on the hold part where ``holds[i]``; every candidate passes the acceptance checks."""
    from training.synthesize import accept

    monkeypatch.setattr(accept, "contact_on_hold_part",
                        lambda mesh, verts, hold: bool(holds[int(round(verts[:, 0].mean()))]))
    monkeypatch.setattr(accept, "check_grasp", lambda *a, **k: (dict(
        penetration_depth_cm=0.1, intersection_volume_cm3=0.1, sim_displacement_6dir_cm=0.5,
        digits_in_contact=["thumb", "index", "middle"], limit_violation_deg=0.0), ""))
    n = len(holds)
    transl = np.zeros((n, 3), np.float32)
    transl[:, 0] = np.arange(n)
    return dict(global_orient=np.zeros((n, 3), np.float32), hand_pose=np.zeros((n, 45), np.float32),
                transl=transl, kind=np.array(["power"] * n), e_closure=np.arange(n, dtype=float),
                max_depth_cm=np.zeros(n))


@pytest.mark.parametrize("holds, prior, taken, refused", [
    ([i % 2 for i in range(12)], [], [1, 3, 5, 7, 9, 11, 0, 2], 0),  # six on the handle first, then two off it
    ([1, 1] + [0] * 10, [], [0, 1], 10),  # two on the handle: nothing off it
    ([0] * 12, [1, 1, 1], [0], 11),  # a top-up: the object's earlier grasps on the handle allow one off it
])
def test_synthesis_takes_hold_part_candidates_first_and_refuses_off_hold_ones_over_the_quota(
        monkeypatch, holds, prior, taken, refused):
    from types import SimpleNamespace

    from jhod_core.hand import HandModel
    from training.synthesize.worker import _check_round

    knife = make_everyday("kitchen_knife", 0)
    result = _candidates_with_holds(monkeypatch, holds)
    syn = SimpleNamespace(hand=HandModel(), frames=None)
    accepted, reasons = [], {}
    timing = dict.fromkeys(("checks", "simulation", "volume"), 0.0)
    _check_round(knife.mesh, syn, {}, result, "optimiser", "ev_kitchen_knife_0000", knife.hold_faces,
                 {"vhacd_cache": None}, accepted, reasons, timing, limit=8 - len(prior), prior=prior)
    assert [int(a["transl"][0]) for a in accepted] == taken
    assert [a["on_hold_part"] for a in accepted] == [holds[i] for i in taken]
    assert reasons.get("off the hold part", 0) == refused


def test_pruning_old_shards_applies_the_same_quota_and_counts_the_dropped_as_rejected(tmp_path):
    import json

    from jhod_core.io.grasp_shards import load_grasps, save_shard
    from training.synthesize.prune import prune_shard

    knife = make_everyday("kitchen_knife", 0)
    (tmp_path / "objects" / "parts").mkdir(parents=True)
    np.savez(tmp_path / "objects" / "parts" / "ev_kitchen_knife_0000.npz", face_part=knife.face_part,
             part_names=np.array(knife.part_names), part_hold=np.array(knife.part_hold))
    record = {"global_orient": np.zeros(3), "transl": np.zeros(3), "hand_pose": np.zeros(45),
              "keypoints": np.zeros((21, 3)), "kind": "power", "digits_in_contact": ["thumb"],
              "penetration_depth_cm": 0.0, "intersection_volume_cm3": 0.0, "sim_displacement_6dir_cm": 0.0,
              "limit_violation_deg": 0.0}
    holds = [0, 1, 1, 1, 0, 0, 1]  # the first and the sixth are over the quota
    records = [{**record, "object_id": "ev_kitchen_knife_0000", "on_hold_part": h} for h in holds]
    records += [{**record, "object_id": "pb_blob", "on_hold_part": -1}]  # no labels: kept
    stats = [{"object_id": "ev_kitchen_knife_0000", "accepted": 7, "rejected": {"simulation": 3}},
             {"object_id": "pb_blob", "accepted": 1, "rejected": {}}]
    shard = tmp_path / "grasps" / "shards" / "shard_00000.npz"
    shard.parent.mkdir(parents=True)
    save_shard(shard, records, [("pb_bad", "too small")], stats, seed=0)
    assert prune_shard(shard, tmp_path / "objects", dry_run=True) == {"ev_kitchen_knife_0000": 2}
    assert len(load_grasps(tmp_path / "grasps")["object_id"]) == 8  # a dry run changes nothing
    assert prune_shard(shard, tmp_path / "objects") == {"ev_kitchen_knife_0000": 2}
    grasps = load_grasps(tmp_path / "grasps")
    assert grasps["on_hold_part"].tolist() == [1, 1, 1, 0, 1, -1]
    assert grasps["skipped_id"].tolist() == ["pb_bad"]
    with np.load(shard) as z:
        knife_stats = json.loads(str(z["stats"]))[0]
    assert knife_stats["accepted"] == 5 and knife_stats["rejected"] == {"simulation": 3, "off the hold part": 2}
    assert prune_shard(shard, tmp_path / "objects") == {}  # a second run drops nothing more
    # a top-up shard: the object's grasps in the first shard count towards the quota
    topped = tmp_path / "grasps" / "shards" / "shard_00001.npz"
    save_shard(topped, [{**record, "object_id": "ev_kitchen_knife_0000", "on_hold_part": h} for h in (1, 1, 0, 0)],
               [], [{"object_id": "ev_kitchen_knife_0000", "accepted": 4, "rejected": {}, "top_up": True}], seed=1)
    assert prune_shard(topped, tmp_path / "objects", dry_run=True) == {"ev_kitchen_knife_0000": 2}  # alone
    kept = {}
    assert prune_shard(shard, tmp_path / "objects", kept=kept) == {}
    assert prune_shard(topped, tmp_path / "objects", dry_run=True, kept=kept) == {"ev_kitchen_knife_0000": 1}


def test_data_report_merges_an_objects_passes_also_where_one_pass_lacks_a_count():
    """A top-up pass adds its counts and times to the object's first pass; a dict of counts that only one pass has
    (a rejection reason, a timing) is taken as it is (this crashed the report once)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "data_engine_report.py"
    spec = importlib.util.spec_from_file_location("data_engine_report", path)
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    first = {"object_id": "a", "accepted": 5, "checked": 20, "reasons": {"simulation": 3}}
    top_up = {"object_id": "a", "accepted": 3, "checked": 10, "reasons": {"simulation": 1, "penetration": 2},
              "timing": {"simulation": 1.5}}
    other = {"object_id": "b", "accepted": 8, "checked": 16}
    merged = {s["object_id"]: s for s in report.merge_passes([first, other, top_up])}
    assert merged["a"]["accepted"] == 8 and merged["a"]["checked"] == 30
    assert merged["a"]["reasons"] == {"simulation": 4, "penetration": 2}
    assert merged["a"]["timing"] == {"simulation": 1.5}
    assert merged["b"] == other
