"""The evaluation suite (`python -m training.eval`) end to end on one object with tiny random weights:
files, table entries and that refinement is measured separately from the raw samples."""

import json

import torch

from tests.tiny_model import write_tiny_weights
from training.eval.__main__ import main


def test_eval_suite_writes_tables_rows_and_sheets(tmp_path):
    torch.set_num_threads(1)
    (tmp_path / "w").mkdir()
    weights = write_tiny_weights(tmp_path / "w")
    out = tmp_path / "eval"
    assert main(["--weights", str(weights), "--splits", "ood_test", "--max-objects", "1", "--num", "3",
                 "--steps", "3", "--methods", "jhod_raw,jhod,jhod_joint", "--joint-num", "2", "--no-sim",
                 "--fid-extractor", "tests.fid_features:hand_statistics", "--fid-reference", "jhod_raw",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert sorted({(r["method"], r["split"]) for r in rows}) == [
        ("jhod", "ood_test"), ("jhod_joint", "generated"), ("jhod_raw", "ood_test")]
    assert sum(r["method"] == "jhod" for r in rows) == 3 and all(r["sim_displacement_cm"] is None for r in rows)
    table = json.loads((out / "summary.json").read_text())["table"]
    for entry in table:
        assert entry["grasps_per_s"] > 0 and 0 <= entry["contact_ratio"] <= 1
    # refinement enforces joint limits, raw random-weight samples need not
    assert next(e for e in table if e["method"] == "jhod_raw")["fid"] < 1e-6  # the reference against itself
    assert next(e for e in table if e["method"] == "jhod_joint")["fid"] is None  # no reference on that split
    refined = next(e for e in table if e["method"] == "jhod")
    assert refined["limit_violation_deg_mean"] < 1e-6
    report = (out / "report.md").read_text()
    assert "| jhod |" in report and (out / "sheet_jhod.png").exists() and (out / "histograms.png").exists()


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
