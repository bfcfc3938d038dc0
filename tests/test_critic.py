"""The learned critic (jhod_core.critic): features, the weights file, collecting simulated samples, fitting."""

import numpy as np
import pytest
import trimesh

from jhod_core.critic import FEATURE_NAMES, Critic, critic_regions, grasp_features
from jhod_core.hand import load_hand_data, numpy_forward
from jhod_core.hand.poses import named_pose
from jhod_core.refine import ObjectSurface


@pytest.fixture(scope="module")
def hand():
    return load_hand_data()


def _fist_around_ball(data):
    """A fist and a 2 cm ball cloud in its grip (the surface touches the palm and the fingers)."""
    pose = named_pose("fist", data)[None]
    vertices, _, _ = numpy_forward(data, np.zeros((1, 3)), pose, np.zeros((1, 3)))
    centre = vertices[0].mean(axis=0)
    radius = np.sort(np.linalg.norm(vertices[0] - centre, axis=1))[60]
    directions = np.random.default_rng(0).normal(size=(4096, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return vertices, ObjectSurface(centre + radius * directions, directions)


def test_features_see_contact_and_its_absence(hand):
    vertices, surface = _fist_around_ball(hand)
    far = vertices + np.array([0.5, 0.0, 0.0])
    f = grasp_features(np.concatenate([vertices, far]), surface, critic_regions(hand))
    assert f.shape == (2, len(FEATURE_NAMES)) and np.isfinite(f).all()
    row = dict(zip(FEATURE_NAMES, f[0]))
    gone = dict(zip(FEATURE_NAMES, f[1]))
    assert row["touch_share_4mm"] > 0 and row["blocked_8mm_0.32"] > 0.5 and row["touch_palm"] == 1.0
    assert gone["touch_share_8mm"] == 0 and gone["blocked_8mm_0.32"] == 0 and gone["depth_cm"] == 0
    assert row["normal_balance"] < 0.8  # contacts all round the ball oppose each other
    np.testing.assert_allclose([row["size_1_cm"], gone["size_1_cm"]], np.ptp(surface.points, axis=0).max() * 100)
    assert gone["local_share"] == 0 and gone["local_1_cm"] == 0  # no contact: no part in the hand


def test_the_part_in_the_hand_tells_a_handle_from_a_blade(hand):
    """The local shape features: a hand on a round 2.4 cm handle sees two similar spreads across it, on a 2 mm
    blade one spread near zero; the share is the part of the object's surface near the contact."""
    from jhod_core.critic import LOCAL_RADIUS, _local_shape

    rng = np.random.default_rng(0)
    angle, along = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(-0.05, 0.05, 4000)
    handle = np.stack([along, 0.012 * np.cos(angle), 0.012 * np.sin(angle)], axis=1)
    blade = np.stack([along, rng.uniform(-0.02, 0.02, 4000), rng.choice([-0.001, 0.001], 4000)], axis=1)
    centre = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    h = _local_shape(handle, centre, np.array([True, False, True]))
    b = _local_shape(blade, centre[:1], np.array([True]))
    assert h[0, 0] > 1.5 and 0.6 < h[0, 1] < 1.0 and 0.6 < h[0, 2] < 1.0  # along, then r / sqrt(2) twice
    assert b[0, 2] < 0.15 < 0.6 < b[0, 1]
    np.testing.assert_allclose(h[0, 3], (np.linalg.norm(handle, axis=1) <= LOCAL_RADIUS).mean())
    assert (h[1:] == 0).all()  # no contact, or nothing of the object near it


def test_a_critic_fitted_on_fewer_features_still_loads_and_picks_its_own(tmp_path):
    """A critic file from before a feature was added picks its columns from the full features; a file naming a
    feature this version does not compute is refused with a sentence."""
    names = FEATURE_NAMES[:5]
    w = np.zeros((5, 1))
    w[4, 0] = 1.0
    Critic(np.zeros(5), np.ones(5), [(w, np.zeros(1))], features=names).save(tmp_path / "critic.npz")
    critic = Critic.load(tmp_path / "critic.npz")
    x = np.random.default_rng(0).normal(size=(3, len(FEATURE_NAMES)))
    np.testing.assert_allclose(critic.logits(x), x[:, 4])
    with pytest.raises(ValueError, match="does not compute: grip_magic"):
        Critic(np.zeros(1), np.ones(1), [(np.zeros((1, 1)), np.zeros(1))], features=["grip_magic"])


def test_critic_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(len(FEATURE_NAMES), 8)), rng.normal(size=8)), (rng.normal(size=(8, 1)), np.zeros(1))]
    critic = Critic(rng.normal(size=len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), layers, {"kind": "mlp"})
    critic.save(tmp_path / "critic.npz")
    again = Critic.load(tmp_path / "critic.npz")
    x = rng.normal(size=(5, len(FEATURE_NAMES)))
    np.testing.assert_allclose(again(x), critic(x), atol=1e-6)
    assert ((again(x) > 0) & (again(x) < 1)).all() and again.info["kind"] == "mlp"


def test_collect_then_fit_on_simulated_samples(tmp_path):
    """collect.py simulates the model's refined samples (six directions each) and resumes; train.py fits a critic
    on them, saves it and reports AUC and the replayed choice on held-out objects."""
    from training.critic import collect, train
    from training.data.corpus import build_corpus, load_manifest, plan_everyday

    corpus = tmp_path / "corpus"
    build_corpus(corpus, plan_everyday(seed=0, per_family=3, families=["can"]), seed=0, workers=1, progress=False)
    split = load_manifest(corpus)[0]["split"]
    out = tmp_path / "data"
    args = ["--objects", str(corpus), "--split", split, "--per-object", "12", "--shard-size", "1", "--out", str(out)]
    assert collect.main([*args, "--limit", "1"]) == 0
    assert collect.main(args) == 0  # resumes: the first object is not collected again
    rows = train.load_rows([out])
    ids = rows["object_id"].tolist()
    assert rows["sim_cm"].shape == (len(ids), 6) and rows["params"].shape == (len(ids), 51)
    assert len(ids) == 12 * len(set(ids)) and sorted(set(ids)) == sorted(
        r["id"] for r in load_manifest(corpus) if r["split"] == split)
    assert rows["volume_cm3"].shape == (len(ids),) and (rows["volume_cm3"] >= 0).all()
    # shards collected before the overlap was stored get it added: the same values (from the stored float32
    # params, so to a micrometre and a voxel)
    first = sorted((out / "shards").glob("shard_*.npz"))[0]
    with np.load(first) as z:
        stored = {k: z[k] for k in z.files}
    np.savez_compressed(first, **{k: v for k, v in stored.items() if k not in ("volume_cm3", "penetration_cm")})
    assert collect.main([*args, "--add-overlap"]) == 0
    with np.load(first) as z:
        np.testing.assert_allclose(z["volume_cm3"], stored["volume_cm3"], atol=0.0011)
        np.testing.assert_allclose(z["penetration_cm"], stored["penetration_cm"], atol=1e-4)
    report = tmp_path / "critic.md"
    assert train.main(["--data", str(out), "--val", str(out), "--out", str(tmp_path / "model"), "--report",
                       str(report)]) == 0
    critic = Critic.load(tmp_path / "model" / "critic.npz")
    assert critic.info["train_grasps"] == len(ids)
    assert "| critic |" in report.read_text() and "| oracle (the simulation itself) | 1.000 |" in report.read_text()
    # an earlier critic replayed on the same samples: the one just fitted, here; a bad --compare is one sentence
    assert train.main(["--data", str(out), "--val", str(out), "--out", str(tmp_path / "again"), "--report",
                       str(report), "--compare", f"first={tmp_path / 'model' / 'critic.npz'}"]) == 0
    assert "| first: its choice |" in report.read_text()
    # predicting the data engine's acceptance (held, and not sunk into the object) instead of holding alone
    assert train.main(["--data", str(out), "--val", str(out), "--out", str(tmp_path / "accepted"), "--report",
                       str(report), "--label", "accepted"]) == 0
    accepted = train.labels(rows, "accepted")
    assert (accepted <= train.labels(rows, "held")).all()
    assert f"({accepted.mean():.0%} accepted)" in report.read_text()
    with pytest.raises(SystemExit):
        train.parse_args(["--data", str(out), "--out", str(tmp_path / "x"), "--compare", "first"])
    # the contact features only: the saved critic names them and nothing of the part in the hand
    assert train.main(["--data", str(out), "--out", str(tmp_path / "contact"), "--features", "contact"]) == 0
    assert "local_share" not in Critic.load(tmp_path / "contact" / "critic.npz").features


def test_the_pipeline_chooses_by_the_critic_beside_the_weights(tmp_path):
    """A critic.npz beside a model's weights takes over the choice among candidates: its grasps score higher by
    that critic than the refiner's choice; without the file the choice is the refiner's."""
    import shutil

    from jhod_core.critic import critic_regions
    from jhod_core.pipeline import collect, iter_grasps, load_backend, prepare_object
    from tests.tiny_model import write_tiny_weights

    (tmp_path / "plain").mkdir()
    plain = write_tiny_weights(tmp_path / "plain")
    judged = tmp_path / "judged"
    shutil.copytree(plain, judged)
    w = np.zeros((len(FEATURE_NAMES), 1))
    # this critic likes deep hands, which the default score avoids (unstandardised, so that it does not saturate)
    w[FEATURE_NAMES.index("depth_cm"), 0] = 5.0
    critic = Critic(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), [(w, np.zeros(1))])
    critic.save(judged / "critic.npz")
    box = trimesh.creation.box((0.06, 0.05, 0.12))
    runs = {name: collect(iter_grasps(load_backend(folder, "numpy"), box, 4, seed=3, steps=4))
            for name, folder in (("plain", plain), ("judged", judged))}
    assert load_backend(judged, "numpy").critic is not None and load_backend(plain, "numpy").critic is None
    prepared = prepare_object(box, seed=3)
    surface = ObjectSurface(prepared.points, prepared.normals)
    hand = load_hand_data()
    score = {name: critic.choice_scores(r["vertices"], surface, critic_regions(hand)).mean()
             for name, r in runs.items()}
    assert not np.allclose(runs["plain"]["transl"], runs["judged"]["transl"])
    assert score["judged"] > score["plain"]


def test_collectors_side_by_side_share_the_objects_exactly_once(capsys):
    from training.critic.collect import object_order, parse_args

    roots = ["data/objects", "data/objects_everyday"]
    whole = object_order(roots, "val", 0, 40)
    parts = [object_order(roots, "val", 0, 40, (k, 3)) for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(whole) and sum(map(len, parts)) == len(whole) == 40
    assert parse_args(["--out", "x", "--part", "1/2"]).part == (1, 2)
    for bad in ("2/2", "a/b", "1"):
        with pytest.raises(SystemExit):
            parse_args(["--out", "x", "--part", bad])
        assert "--part takes K/N" in capsys.readouterr().err


def test_accepted_on_part_asks_for_the_part_to_prefer_only_where_there_is_one():
    from training.critic.train import labels, replay

    rows = {"sim_cm": np.array([[0.5] * 6, [0.5] * 6, [0.5] * 6, [9.0] * 6]),
            "penetration_cm": np.zeros(4), "volume_cm3": np.zeros(4),
            "on_part": np.array([1, 0, -1, 1], dtype=np.int8)}
    assert labels(rows, "accepted").tolist() == [True, True, True, False]
    assert labels(rows, "accepted_on_part").tolist() == [True, False, True, False]
    # the replayed choice reports the kept grasps' share on the part, over objects with one
    rows.update(corpus=np.array(["c"] * 4), object_id=np.array(["a", "a", "a", "a"]), grasp=np.arange(4),
                depth_cm=np.zeros(4))
    kept = replay(rows, np.array([0.0, 1.0, 0.5, 0.9]), candidates=1)  # one block of 4: all kept
    assert kept["on_part"] == pytest.approx(2 / 3)


def test_the_part_head_is_the_fitted_trees_in_numpy_and_survives_the_file(tmp_path):
    """fit_part's trees, evaluated in NumPy (no scikit-learn in Blender), give scikit-learn's probabilities; saved
    and loaded they steer the choice: of two equally holding grasps the one the head likes wins."""
    from sklearn.ensemble import GradientBoostingClassifier

    from training.critic.train import fit_part

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, len(FEATURE_NAMES)))
    y = (x[:, 3] + 0.5 * x[:, 7] ** 2 + 0.3 * rng.normal(size=600) > 0.4).astype(int)
    trees = fit_part(x, y, FEATURE_NAMES, seed=0)
    want = GradientBoostingClassifier(n_estimators=200, max_depth=3, subsample=0.8, random_state=0).fit(
        x.astype(np.float32), y).predict_proba(x.astype(np.float32))[:, 1]
    critic = Critic(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)),
                    [(np.zeros((len(FEATURE_NAMES), 1)), np.zeros(1))], part=trees, part_weight=0.4)
    np.testing.assert_allclose(critic.on_part(x), want, atol=1e-6)
    critic.save(tmp_path / "critic.npz")
    again = Critic.load(tmp_path / "critic.npz")
    np.testing.assert_allclose(again.on_part(x), want, atol=1e-5)
    scores = again.scores(x, depth=np.zeros(len(x)))  # the MLP says 0.5 for all: the head decides
    assert np.corrcoef(scores, want)[0, 1] > 0.999 and again.part_weight == 0.4
    assert fit_part(x, np.ones(600, dtype=int), FEATURE_NAMES, 0) is None  # no object with a part to prefer
    assert Critic.load(tmp_path / "critic.npz").part is not None
    plain = Critic(np.zeros(3), np.ones(3), [(np.zeros((3, 1)), np.zeros(1))], features=FEATURE_NAMES[:3])
    assert (plain.on_part(x) == 1).all() and np.allclose(plain.scores(x, np.zeros(len(x))), 0.5)


def test_unsimulated_samples_on_objects_with_a_handle_feed_the_part_head(tmp_path):
    """collect.py --no-sim --with-hold-part stores the model's refined samples of objects with a part to prefer
    only (no simulation); train.py --part-data fits the part head on them as well, leaving out --val's objects."""
    from training.critic import collect, train
    from training.data.corpus import build_corpus, load_manifest, plan_everyday

    corpus = tmp_path / "corpus"
    build_corpus(corpus, plan_everyday(seed=0, per_family=2, families=["kitchen_knife", "can"]), seed=0,
                 workers=1, progress=False)
    import csv

    with open(corpus / "manifest.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    for row in table:
        row["split"] = "train"  # one split for all four: the tiny corpus's split assignment is not the point here
    with open(corpus / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    rows, split = load_manifest(corpus), "train"
    sims, parts = tmp_path / "sim", tmp_path / "parts"
    base = ["--objects", str(corpus), "--split", split, "--per-object", "6", "--shard-size", "2"]
    assert collect.main([*base, "--out", str(parts), "--no-sim", "--with-hold-part"]) == 0
    stored = train.load_rows([parts])
    assert "sim_cm" not in stored and set(stored["object_id"].tolist()) == {
        r["id"] for r in rows if "kitchen_knife" in r["id"]}
    assert collect.main([*base, "--out", str(sims)]) == 0
    out = tmp_path / "critic"
    assert train.main(["--data", str(sims), "--part-data", str(parts), "--out", str(out)]) == 0
    critic = Critic.load(out / "critic.npz")
    assert critic.info["part_data_grasps"] == 12 and critic.part_weight == 0.7
    simulated = train.load_rows([sims])
    train.features_of(stored), train.features_of(simulated)  # set on_part
    labels = np.concatenate([train.part_labels(simulated), train.part_labels(stored)])
    assert (critic.part is not None) == (0 < labels.sum() < len(labels))  # fitted where both outcomes occur
    assert (stored["on_part"] >= 0).all()  # every stored object has a part to prefer


def test_a_critic_added_or_replaced_beside_loaded_weights_is_used(tmp_path):
    """The loaded model is cached per weight files; a critic.npz added, replaced or removed beside the same
    weights (a long-lived Blender session, a bench swapping critics) is picked up, not the cached one."""
    from jhod_core.pipeline import load_backend
    from tests.tiny_model import write_tiny_weights

    (tmp_path / "w").mkdir()
    folder = write_tiny_weights(tmp_path / "w")
    assert load_backend(folder, "numpy").critic is None
    w = np.zeros((len(FEATURE_NAMES), 1))
    Critic(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), [(w, np.zeros(1))]).save(folder / "critic.npz")
    first = load_backend(folder, "numpy").critic
    assert first is not None and first.part is None
    Critic(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), [(w, np.ones(1))]).save(folder / "critic.npz")
    assert load_backend(folder, "numpy").critic.layers[0][1][0] == 1.0
    (folder / "critic.npz").unlink()
    assert load_backend(folder, "numpy").critic is None
