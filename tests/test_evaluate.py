"""``python -m seqexp.evaluate``: a checkpoint re-scored on a split gives the metrics its run reported."""

import json
import subprocess
import sys

import pytest

from helpers import read_metrics


def evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqexp.evaluate", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("task", ["classify", "ner"])
def test_rescoring_the_best_checkpoint_reproduces_the_run(trained, task):
    run = trained(task)
    reported = read_metrics(run)
    proc = evaluate(f"ckpt={run / reported['best_checkpoint']}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["split"] == "test" and (run / "evaluate-test.json").is_file()
    assert result["metrics"] == pytest.approx({k: v for k, v in reported["metrics"].items() if k.startswith("test/")})


def test_val_split_matches_the_run_exactly(trained):
    run = trained("classify")
    reported = read_metrics(run)
    proc = evaluate(f"ckpt={run / reported['best_checkpoint']}", "split=val")
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout)["metrics"]
    assert scores == pytest.approx({k: v for k, v in reported["metrics"].items() if k.startswith("val/")})


def test_other_test_file_and_errors(trained, tmp_path):
    run = trained("classify")
    ckpt = run / read_metrics(run)["best_checkpoint"]
    other = tmp_path / "other.label"
    other.write_text("HUM:ind Who wrote Hamlet ?\nNUM:count How many legs does a spider have ?\n")
    proc = evaluate(f"ckpt={ckpt}", f"data.test={other}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 0 <= json.loads(proc.stdout)["metrics"]["test/acc"] <= 1
    missing = evaluate(f"ckpt={tmp_path}/nope.ckpt")
    assert missing.returncode == 2 and f"ckpt: checkpoint not found: {tmp_path}/nope.ckpt" in missing.stderr
    assert "Traceback" not in missing.stderr
