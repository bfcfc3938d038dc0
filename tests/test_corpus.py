"""training.data: procedural families, corpus build (skip, resume, splits) and loaders."""

import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import trimesh

from training.data import corpus, procedural
from training.data.corpus import (
    NAMED_OBJECTS, SPLITS, ObjectSpec, build_corpus, load_manifest, load_object_mesh, load_object_points,
    plan_corpus, split_for, split_ids,
)

FAMILIES = list(procedural.FAMILIES)
SEEDS = [0, 1, 2, 3, 11]
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- procedural families

@pytest.mark.parametrize("family", FAMILIES)
def test_family_watertight_outward_and_hand_sized(family):
    for seed in SEEDS:
        mesh = procedural.make_object(family, seed)
        where = f"{family} seed {seed}"
        assert mesh.is_watertight, where
        assert mesh.is_winding_consistent, where
        assert mesh.volume > 0, where  # outward normals
        assert mesh.body_count == 1, where
        assert (mesh.area_faces > 0).all(), where
        size = np.ptp(mesh.vertices, axis=0).max()
        assert procedural.MIN_SIZE <= size <= procedural.MAX_SIZE, f"{where}: {size:.3f} m"
        assert len(mesh.faces) <= procedural.MAX_FACES, where


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_deterministic_per_seed(family):
    a, b = procedural.make_object(family, 5), procedural.make_object(family, 5)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    assert not np.array_equal(a.vertices, procedural.make_object(family, 6).vertices)


def test_mug_is_hollow_with_an_open_top():
    mug = procedural.make_object("mug", 0)
    lo, hi = mug.bounds
    # body centre (x = 0 is the cup axis; the handle is on +x) halfway up: inside the cavity, not the solid
    assert not mug.contains([[0.0, 0.0, (lo[2] + hi[2]) / 2]])[0]
    assert mug.volume < 0.5 * mug.convex_hull.volume


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown procedural family"):
        procedural.make_object("spoon", 0)


# --------------------------------------------------------------------------- splits

def test_split_is_deterministic_and_balanced():
    ids = [f"proc_box_{i:04d}" for i in range(5000)]
    splits = [split_for(i) for i in ids]
    assert splits == [split_for(i) for i in ids]
    counts = Counter(splits)
    assert set(counts) == {"train", "val", "test"}
    assert 0.77 < counts["train"] / len(ids) < 0.83
    assert 0.08 < counts["val"] / len(ids) < 0.12


def test_named_objects_are_ood_only_and_exist():
    specs = plan_corpus(0, 1)
    named = [s for s in specs if s.family == "pb_named"]
    assert {s.id for s in named} == {f"pb_named_{n}" for n in NAMED_OBJECTS}
    assert all(split_for(s.id) == "ood_test" for s in named)
    assert all(split_for(s.id) in ("train", "val", "test") for s in specs if s.family != "pb_named")
    assert all(Path(s.path).is_file() for s in named)
    assert len(specs) == len({s.id for s in specs}) == 1000 + len(NAMED_OBJECTS) + len(FAMILIES)


def test_plan_is_seeded():
    a, b = plan_corpus(0, 2, random_indices=[0, 1], named=[]), plan_corpus(0, 2, random_indices=[0, 1], named=[])
    assert a == b
    c = plan_corpus(1, 2, random_indices=[0, 1], named=[])
    assert [s.id for s in a] == [s.id for s in c] and a != c


# --------------------------------------------------------------------------- building

def tiny_specs():
    """3 procedural + 2 pybullet random objects."""
    return plan_corpus(0, 1, random_indices=[0, 1], named=[], families=["box", "mug", "torus"])


def test_points_are_split_into_files_of_bounded_size_and_read_back_whole(tmp_path, monkeypatch):
    specs = tiny_specs()
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    whole = load_object_points(tmp_path)
    monkeypatch.setattr(corpus, "POINTS_PER_FILE", 2)
    (tmp_path / "points.npz").unlink()
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    assert [p.name for p in corpus.points_files(tmp_path)] == ["points.npz", "points_1.npz", "points_2.npz"]
    for a, b in zip(whole, load_object_points(tmp_path)):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(corpus, "POINTS_PER_FILE", 4)  # fewer files next time: no stale chunk is left behind
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    assert [p.name for p in corpus.points_files(tmp_path)] == ["points.npz", "points_1.npz"]


def test_build_resume_and_loaders(tmp_path):
    specs = tiny_specs()
    first = build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    assert (first.built, first.reused, first.skipped) == (5, 0, {})
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "meshes").iterdir()}
    ids, points, normals = load_object_points(tmp_path)

    second = build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    assert (second.built, second.reused) == (0, 5)
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "meshes").iterdir()}

    # points lost (e.g. a killed run): rebuilt identically from the PLY files
    (tmp_path / "points.npz").unlink()
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    ids2, points2, normals2 = load_object_points(tmp_path)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(points, points2)
    np.testing.assert_array_equal(normals, normals2)

    rows = load_manifest(tmp_path)
    assert [r["id"] for r in rows] == [s.id for s in specs] == list(ids)
    assert points.shape == normals.shape == (5, corpus.N_POINTS, 3) and points.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=2e-3)
    for row, cloud in zip(rows, points):
        mesh = load_object_mesh(tmp_path, row["id"])
        assert isinstance(mesh, trimesh.Trimesh) and len(mesh.faces) == row["n_faces"]
        assert mesh.is_watertight and row["watertight"] and row["volume"] > 0
        np.testing.assert_allclose(mesh.bounds.mean(axis=0), 0.0, atol=1e-6)  # object-centric frame
        extents = [row["extent_x"], row["extent_y"], row["extent_z"]]
        np.testing.assert_allclose(np.ptp(mesh.vertices, axis=0), extents, atol=2e-6)
        assert (np.abs(cloud) <= mesh.bounds[1] + 1e-4).all()
        assert row["split"] == split_for(row["id"])
    random_rows = [r for r in rows if r["family"] == "pb_random"]
    assert all(0.05 <= max(r["extent_x"], r["extent_y"], r["extent_z"]) <= 0.20 for r in random_rows)
    assert sorted(sum((split_ids(tmp_path, s) for s in ("train", "val", "test")), [])) == sorted(ids)


def test_points_prefix_is_a_uniform_sample(tmp_path):
    """The file groups points by face; the loader must not hand that order out."""
    specs = plan_corpus(0, 1, random_indices=[], named=[], families=["box"])
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    _, points, _ = load_object_points(tmp_path)
    head = points[0, :256]
    assert np.ptp(head, axis=0).min() > 0.5 * np.ptp(points[0], axis=0).min()


def test_bad_sources_are_skipped_with_a_reason(tmp_path, caplog):
    (tmp_path / "corrupt.obj").write_bytes(b"\x00\xff garbage v 1 2\nf 9 9 9 9\n" * 10)
    (tmp_path / "empty.obj").write_text("")
    (tmp_path / "nan.obj").write_text("v nan nan nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    bad = [ObjectSpec(f"pb_random_bad_{name}", "pb_random", name, "test", path=str(tmp_path / f"{name}.obj"),
                      size=0.1) for name in ("corrupt", "empty", "nan", "missing")]
    good = plan_corpus(0, 1, random_indices=[], named=[], families=["cone"])
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="training.data.corpus"):
        report = build_corpus(out, bad + good, seed=0, workers=1, progress=False)
    assert report.built == 1 and set(report.skipped) == {s.id for s in bad}
    assert all(report.skipped.values())
    for spec in bad:
        assert any(spec.id in message and "skipped" in message for message in caplog.messages)
    assert [r["id"] for r in load_manifest(out)] == [good[0].id]
    assert len((out / "skipped.csv").read_text().splitlines()) == 1 + len(bad)


def test_large_meshes_are_decimated():
    pytest.importorskip("fast_simplification")
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=1.0)  # 20480 faces, unit "file" size
    mesh, scale = corpus.prepare_mesh(sphere, size=0.08)
    assert len(mesh.faces) <= corpus.MAX_FACES and mesh.is_watertight
    np.testing.assert_allclose(np.ptp(mesh.vertices, axis=0).max(), 0.08, rtol=0.02)
    np.testing.assert_allclose(scale, 0.04, rtol=0.02)


def test_urdf_scale_is_applied():
    source = corpus.default_pybullet_root() / "random_urdfs" / "000"
    mesh_file, scale = corpus.read_urdf_mesh(source / "000.urdf")
    assert mesh_file == source / "000.obj"
    np.testing.assert_allclose(scale, [0.015] * 3)


def test_resume_with_another_seed_is_refused(tmp_path):
    specs = plan_corpus(0, 1, random_indices=[], named=[], families=["plate"])
    build_corpus(tmp_path, specs, seed=0, workers=1, progress=False)
    with pytest.raises(ValueError, match="seed"):
        build_corpus(tmp_path, specs, seed=1, workers=1, progress=False)


def test_pool_build_matches_serial_build(tmp_path):
    specs = plan_corpus(0, 2, random_indices=[], named=[], families=["capsule", "cylinder"])
    build_corpus(tmp_path / "a", specs, seed=0, workers=1, progress=False)
    build_corpus(tmp_path / "b", specs, seed=0, workers=2, progress=False)
    assert (tmp_path / "a" / "manifest.csv").read_text() == (tmp_path / "b" / "manifest.csv").read_text()
    for spec in specs:
        name = f"meshes/{spec.id}.ply"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --------------------------------------------------------------------------- the generated corpus

CORPUS = REPO / "data" / "objects"


@pytest.mark.skipif(not (CORPUS / "manifest.csv").exists(), reason="data/objects has not been generated")
def test_generated_corpus_integrity():
    rows = load_manifest(CORPUS)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert {r["split"] for r in rows} <= set(SPLITS)
    for row in rows:
        assert (row["split"] == "ood_test") == row["id"].startswith("pb_named_"), row["id"]
        assert row["split"] == split_for(row["id"])
        assert (CORPUS / "meshes" / f"{row['id']}.ply").is_file(), row["id"]
        size = max(row["extent_x"], row["extent_y"], row["extent_z"])
        assert procedural.MIN_SIZE - 1e-6 <= size <= procedural.MAX_SIZE + 1e-6, row["id"]
        assert row["licence"]
    with np.load(CORPUS / "points.npz") as data:
        assert list(data["ids"]) == ids
        assert data["points"].shape == data["normals"].shape == (len(ids), corpus.N_POINTS, 3)
    assert max(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 40 * 2**20
    assert os.path.getsize(CORPUS / "points.npz") < 40 * 2**20


def test_several_corpora_read_together(tmp_path):
    """The training scripts take the v1 and the everyday corpora together: points, splits and grasps join."""
    from jhod_core.io.grasp_shards import load_grasps, save_shard

    a, b = tmp_path / "a", tmp_path / "b"
    build_corpus(a, plan_corpus(0, 1, random_indices=[], named=[], families=["box", "mug"]), seed=0, workers=1,
                 progress=False)
    build_corpus(b, plan_corpus(0, 1, random_indices=[], named=[], families=["torus"]), seed=0, workers=1,
                 progress=False)
    ids, points, _ = load_object_points([a, b])
    assert list(ids) == list(load_object_points(a)[0]) + list(load_object_points(b)[0])
    assert points.shape == (3, corpus.N_POINTS, 3)
    for split in ("train", "val", "test"):
        assert split_ids([a, b], split) == split_ids(a, split) + split_ids(b, split)
    with pytest.raises(ValueError, match="ids repeat"):
        load_object_points([a, a])
    record = {"object_id": "x", "global_orient": np.zeros(3), "hand_pose": np.zeros(45), "transl": np.zeros(3),
              "keypoints": np.zeros((21, 3)), "kind": "power", "digits_in_contact": ["thumb"],
              **{k: 0.0 for k in ("penetration_depth_cm", "intersection_volume_cm3", "sim_displacement_6dir_cm",
                                  "limit_violation_deg")}}
    for root, n in ((a, 2), (b, 3)):
        (root / "grasps" / "shards").mkdir(parents=True)
        save_shard(root / "grasps" / "shards" / "shard_00000.npz", [record] * n, [], [{"object_id": "x"}], seed=0)
    both = load_grasps([a / "grasps", b / "grasps"])
    assert len(both["object_id"]) == 5 and len(both["stats"]) == 2
