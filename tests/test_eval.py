"""The evaluation suite (`python -m training.eval`) end to end on one object with tiny random weights:
files, table entries and that refinement is measured separately from the raw samples."""

import json

import numpy as np
import torch

from tests.tiny_model import write_tiny_weights
from training.eval.__main__ import main


def test_eval_suite_writes_tables_rows_and_sheets(tmp_path):
    torch.set_num_threads(1)
    (tmp_path / "w").mkdir()
    weights = write_tiny_weights(tmp_path / "w")
    out = tmp_path / "eval"
    assert main(["--weights", str(weights), "--splits", "ood_test", "--max-objects", "2", "--num", "3",
                 "--steps", "3", "--methods", "jhod_raw,jhod,jhod_joint", "--joint-num", "2", "--no-sim",
                 "--fid-extractor", "tests.fid_features:hand_statistics", "--fid-reference", "jhod_raw",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert sorted({(r["method"], r["split"]) for r in rows}) == [
        ("jhod", "ood_test"), ("jhod_joint", "generated"), ("jhod_raw", "ood_test")]
    assert sum(r["method"] == "jhod" for r in rows) == 6 and all(r["sim_displacement_cm"] is None for r in rows)
    table = json.loads((out / "summary.json").read_text())["table"]
    for entry in table:
        assert entry["grasps_per_s"] > 0 and 0 <= entry["contact_ratio"] <= 1
        assert entry["sim_displacement_cm_se"] is None  # no simulation, nothing to be unsure of
    raw = next(e for e in table if e["method"] == "jhod_raw")
    raw_rows = [r for r in rows if r["method"] == "jhod_raw"]
    per_object = [np.mean([r["penetration_depth_cm"] for r in raw_rows if r["object_id"] == oid])
                  for oid in sorted({r["object_id"] for r in raw_rows})]
    assert np.isclose(raw["penetration_depth_cm_se"], np.std(per_object, ddof=1) / np.sqrt(2))  # over objects
    # refinement enforces joint limits, raw random-weight samples need not
    assert next(e for e in table if e["method"] == "jhod_raw")["fid"] < 1e-6  # the reference against itself
    assert next(e for e in table if e["method"] == "jhod_joint")["fid"] is None  # no reference on that split
    refined = next(e for e in table if e["method"] == "jhod")
    assert refined["limit_violation_deg_mean"] < 1e-6
    report = (out / "report.md").read_text()
    assert f"{raw['penetration_depth_cm']:.2f} +- {raw['penetration_depth_cm_se']:.2f}" in report
    assert "| jhod |" in report and (out / "sheet_jhod.png").exists() and (out / "histograms.png").exists()
    # runs from before ``accepted`` was stored get it from their hands: unknown here, without the simulation
    from training.eval import accepted

    assert all("accepted" in r and r["accepted"] is None for r in rows)
    # as if the refined grasps had been simulated and held, without sinking in: then the digits decide
    passing = {"sim_displacement_6dir_cm": 1.0, "intersection_volume_cm3": 0.5, "penetration_depth_cm": 0.1,
               "limit_violation_deg": 0.0}
    old = [{k: v for k, v in r.items() if k != "accepted"} | (passing if r["method"] == "jhod" else {}) for r in rows]
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert accepted.main([str(out), "--objects", "data/objects"]) == 0
    again = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "accepted"} for r in again] == old
    for r in again:
        if r["method"] != "jhod":
            assert r["accepted"] is None  # not simulated
        elif r["digits_in_contact"] != 2:  # two digits: a pinch only if thumb and index
            assert r["accepted"] == (r["digits_in_contact"] >= 3)


def test_ablation_table_puts_models_side_by_side(tmp_path):
    import json

    import pytest

    from training.eval import ablations

    for name, pen in (("a", 1.0), ("b", 2.0)):
        folder = tmp_path / name
        folder.mkdir()
        row = {"method": "jhod_raw", "split": "test", "grasps": 8, "penetration_depth_cm": pen,
               "contact_ratio": 1.0}
        (folder / "summary.json").write_text(json.dumps({"command": "x/__main__.py --num 8", "table": [row]}))
    out = tmp_path / "report.md"
    assert ablations.main(["--run", f"model A={tmp_path / 'a'}", "--run", f"model B={tmp_path / 'b'}",
                           "--out", str(out)]) == 0
    lines = [ln for ln in out.read_text().splitlines() if ln.startswith(("| model A", "| model B"))]
    assert [ln.split(" | ")[0] for ln in lines] == ["| model A", "| model B"]
    assert "| 1.00 |" in lines[0] and "| 2.00 |" in lines[1] and "–" in lines[0]  # missing metrics shown as –
    assert "python -m training.eval --num 8" in out.read_text()
    with pytest.raises(SystemExit):
        ablations.main(["--run", "no-equals-sign", "--out", str(out)])


def _rows(folder, values):
    """rows.jsonl with one jhod/test row per (object, penetration) pair."""
    folder.mkdir()
    keys = ("intersection_volume_cm3", "sim_displacement_cm", "sim_displacement_6dir_cm")
    lines = [json.dumps({"method": "jhod", "split": "test", "object_id": oid, "penetration_depth_cm": pen,
                         **{k: None for k in keys}}) for oid, pen in values]
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_uncertainty_is_over_objects_and_pairs_by_object(tmp_path, capsys):
    import numpy as np

    from training.eval import uncertainty

    # object a: 1 and 3 (mean 2), object b: 4 (one grasp); the error is over the two object means
    run = _rows(tmp_path / "run", [("a", 1.0), ("a", 3.0), ("b", 4.0)])
    means = uncertainty.object_means(run)
    assert means == {("jhod", "test", "penetration_depth_cm"): {"a": 2.0, "b": 4.0}}
    mean, error = uncertainty.mean_and_error([2.0, 4.0])
    assert mean == 3.0 and np.isclose(error, np.std([2.0, 4.0], ddof=1) / np.sqrt(2))
    other = _rows(tmp_path / "other", [("a", 1.5), ("b", 3.0), ("c", 9.0)])  # c is not shared: left out
    assert uncertainty.main([str(run), "--paired-with", str(other)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "penetration" in ln)
    diffs = [0.5, 1.0]
    expected = f"{np.mean(diffs):+.3f} +- {np.std(diffs, ddof=1) / np.sqrt(2):.3f} (2 objects)"
    assert "| 2 | 3.000 +- 1.000 |" in line and expected in line


def test_selection_replay_keeps_the_best_scored_of_the_first_candidates():
    import numpy as np

    from training.eval.tune_selection import KEEP, replay

    # one object, 2 x KEEP pooled grasps; grasp i has held = i / 100, and penetration 1 cm for odd i
    rows = [{"object_id": "o", "grasp": i, "held": i / 100, "depth_m": 0.01 * (i % 2),
             "penetration_depth_cm": float(i % 2), "intersection_volume_cm3": 0.0,
             "sim_displacement_cm": float(i), "sim_displacement_6dir_cm": 0.0} for i in range(2 * KEEP)]
    first = replay(rows, 1, "held", 0.0)                # K = 1: simply the first KEEP grasps
    assert first["sim_displacement_cm"] == np.mean(range(KEEP))
    best = replay(rows, 2, "held", 0.0)                 # K = 2, no penalty: the KEEP highest held
    assert best["sim_displacement_cm"] == np.mean(range(KEEP, 2 * KEEP))
    per_grasp = replay(rows, 2, "held", 0.0, block=1)  # each grasp the better of its own two: the odd ones
    assert per_grasp["sim_displacement_cm"] == np.mean(range(1, 2 * KEEP, 2))
    halves = replay(rows, 2, "held", 0.0, block=KEEP // 2)  # two blocks, each its upper half
    assert halves["sim_displacement_cm"] == np.mean([*range(KEEP // 2, KEEP), *range(KEEP + KEEP // 2, 2 * KEEP)])
    careful = replay(rows, 2, "held", 100.0)            # a heavy penalty: only even (unpenetrating) grasps
    assert careful["penetration_depth_cm"] == 0.0


def test_selection_oracle_and_drop_auc():
    import numpy as np

    from training.eval.tune_selection import DROP_CM, KEEP, drop_auc, replay

    # grasp i: six-direction displacement 2 * KEEP - i (the later, the better), -y 10 cm (dropped) for i < 3
    rows = [{"object_id": "o", "grasp": i, "held": 0.5, "depth_m": 0.0, "penetration_depth_cm": 0.0,
             "intersection_volume_cm3": 0.0, "sim_displacement_cm": 10.0 if i < 3 else 1.0,
             "sim_displacement_6dir_cm": float(2 * KEEP - i)} for i in range(2 * KEEP)]
    oracle = replay(rows, 2, "oracle", 0.0)  # the KEEP lowest six-direction displacements
    assert oracle["sim_displacement_6dir_cm"] == np.mean(range(1, KEEP + 1))
    assert drop_auc(rows, "held") == 0.5     # a constant score cannot separate anything
    for r in rows:
        r["held"] = float(r["sim_displacement_cm"] <= DROP_CM)
    assert drop_auc(rows, "held") == 1.0
    for r in rows:
        r["held"] = 1.0 - r["held"]
    assert drop_auc(rows, "held") == 0.0


def test_displacement_by_object_size(tmp_path, capsys):
    import json

    from training.data.corpus import load_object_mesh, split_ids
    from training.eval import by_size

    assert [by_size.size_label(e) for e in (3.0, 10.0, 14.9, 15.0, 40.0)] == [
        "< 10 cm", "10-15 cm", "10-15 cm", ">= 15 cm", ">= 15 cm"]
    rows = [{"object_id": oid, "split": "test", "method": "m", "grasp": i, "sim_displacement_cm": y,
             "sim_displacement_6dir_cm": 1.0}
            for oid, ys in (("small_a", (1.0, 3.0)), ("small_b", (10.0, 10.0)), ("big", (0.5, 0.5)))
            for i, y in enumerate(ys)]
    rows.append({**rows[0], "object_id": "generated_0"})  # not in the extents: left out
    table = by_size.size_table(rows, {"small_a": 5.0, "small_b": 8.0, "big": 20.0})
    small = next(line for line in table.splitlines() if "< 10 cm" in line)
    # per-object means 2 and 10: mean 6 +- 4 (std 5.66 / sqrt 2); 2 of 4 grasps over 5 cm
    assert "| m | test | < 10 cm | 4 | 2 | 6.00 +- 4.00 | 50% | 1.00 |" == small
    assert "| m | test | >= 15 cm | 2 | 1 | 0.50 +- nan | 0% | 1.00 |" in table

    # on the real corpus: extents come from the object meshes, the command writes by_size.md
    oid = split_ids("data/objects", "test")[0]
    run = tmp_path / "run"
    run.mkdir()
    (run / "rows.jsonl").write_text(json.dumps({**rows[0], "object_id": oid}) + "\n")
    assert by_size.main([str(run)]) == 0
    extent = max(load_object_mesh("data/objects", oid).extents) * 100.0
    line = f"| m | test | {by_size.size_label(extent)} | 1 | 1 | 1.00 +- nan | 0% | 1.00 |"
    assert line in (run / "by_size.md").read_text() and line in capsys.readouterr().out


def test_evaluation_on_ray_and_in_other_protocols(tmp_path):
    """The metric jobs on a local Ray instance give the local rows; a protocol switch reaches the metrics."""
    import pytest

    ray = pytest.importorskip("ray", reason="the Ray executor test needs Ray (pip install -e '.[dev]')")
    torch.set_num_threads(1)
    (tmp_path / "w").mkdir()
    weights = write_tiny_weights(tmp_path / "w")
    common = ["--weights", str(weights), "--splits", "ood_test", "--max-objects", "1", "--num", "2", "--steps", "2",
              "--methods", "jhod_raw", "--no-sim"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    try:
        assert main([*common, "--executor", "ray", "--workers", "2", "--out", str(tmp_path / "ray")]) == 0
    finally:
        ray.shutdown()
    assert main([*common, "--protocol", "oakink", "--out", str(tmp_path / "oakink")]) == 0

    def rows(name):
        return [json.loads(line) for line in (tmp_path / name / "rows.jsonl").read_text().splitlines()]

    assert rows("local") == rows("ray")
    for ours, theirs in zip(rows("local"), rows("oakink")):  # OakInk's depth: to the nearest object vertex
        assert theirs["penetration_depth_cm"] >= ours["penetration_depth_cm"] - 1e-9


def test_accepted_is_the_data_engines_acceptance_on_a_measured_row():
    from training.synthesize.accept import accepted

    row = {"limit_violation_deg": 1.0, "penetration_depth_cm": 0.3, "sim_displacement_6dir_cm": 1.5,
           "intersection_volume_cm3": 2.0}
    three = ["thumb", "index", "middle"]
    assert accepted(row, three) is True
    assert accepted(row, ["thumb", "index"]) is True  # a pinch counts
    assert accepted(row, ["index", "middle"]) is False
    for key, bad in (("limit_violation_deg", 6.0), ("penetration_depth_cm", 0.6), ("sim_displacement_6dir_cm", 2.5),
                     ("intersection_volume_cm3", 3.5)):
        assert accepted({**row, key: bad}, three) is False
    assert accepted({**row, "sim_displacement_6dir_cm": None}, three) is None  # not simulated: unknown
