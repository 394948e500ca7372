"""task=adding end to end: a tiny run writes its metrics, the always-1.0 baseline and the gradient flow."""

import csv

import pytest

from seqexp.run.fit import train

TINY = ["data.length=12", "data.train_size=128", "data.val_size=32", "data.test_size=32", "model.hidden_size=8",
        "trainer.max_epochs=1", "trainer.log_every_n_steps=1", "callbacks.grad_flow.every_n_steps=1"]


@pytest.mark.parametrize("model", ["lstm", "bigru"])
def test_a_tiny_run_writes_metrics_and_grad_flow(make_cfg, tmp_path, model):
    result = train(make_cfg("task=adding", f"model={model}", *TINY))
    metrics = result["metrics"]
    assert {"test/mse", "test/within", "test/baseline_mse", "val/mse"} <= set(metrics)
    assert metrics["test/mse"] == pytest.approx(metrics["test/loss"], rel=1e-4)
    assert 0 <= metrics["test/within"] <= 1 and 0.05 < metrics["test/baseline_mse"] < 0.4
    assert (tmp_path / "grad_flow.png").stat().st_size > 1000
    rows = list(csv.DictReader((tmp_path / "grad_flow.csv").open()))
    directions = 2 if model.startswith("bi") else 1
    assert len(rows) == 2 * directions * 12  # steps 0 and 1, every distance of the 12
    logged = next(csv.DictReader((tmp_path / "csv" / "metrics.csv").open())).keys()
    gate = "update" if "gru" in model else "forget"
    assert {"grad_flow/l0_log10_ratio", "grad_flow/l0_saturated", f"grad_flow/l0_{gate}_gate"} <= set(logged)
