"""``python -m seqexp.bench`` runs end to end on a tiny size; no timing target is asserted (it is a benchmark)."""

import json
import math

import pytest

from helpers import run_module


def test_bench_runs_on_a_tiny_size(tmp_path):
    # one thread: two threads on two cores stall on each other's spin-waits whenever anything else runs
    out = tmp_path / "b.json"
    proc = run_module("seqexp.bench", "tasks=classify,ner", "models=gru", "steps=3", "warmup=2", "rounds=1",
                      "quick=true", "threads=1", f"out={out}", timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"meta", "training", "padding", "encoder", "decoding", "notes"} <= set(result)
    assert result["meta"]["threads"] == 1 and result["meta"]["torch"]

    row, ner = result["training"]  # ner: its plateau schedule must not wait for a validation the bench skips
    assert (row["task"], row["model"], row["steps"], ner["task"]) == ("classify", "gru", 3, "ner")
    assert row["tokens"] > 0 and 0 <= row["padding"] <= 1 and row["peak_rss_mb"] > 0
    for loop in ("plain", "seqexp"):
        assert row[loop]["tokens_per_s"] > 0
    assert math.isfinite(row["ratio"]) and row["ratio"] > 0

    corpora = {r["corpus"]: r for r in result["padding"]}
    assert set(corpora) == {"trec", "wnut17", "ud_ewt", "tatoeba"}
    for r in corpora.values():
        assert 0 <= r["bucket_on"] <= 1 and 0 <= r["bucket_off"] <= 1
        assert r["bucket_on"] < r["bucket_off"], r

    cells = {(r["impl"], r["cell"]): r for r in result["encoder"]["rows"]}
    assert set(cells) == {("raw", "lstm"), ("cudnn", "lstm"), ("scratch", "lstm"), ("scratch", "lnlstm")}
    assert all(r["ms_per_step"] > 0 for r in cells.values())
    assert cells["cudnn", "lstm"]["ratio_vs_cudnn_lstm"] == 1.0

    beams = {r["beam_size"]: r for r in result["decoding"]["rows"]}
    assert set(beams) == {1, 5} and all(r["sentences_per_s"] > 0 for r in beams.values())

    for text in ("Training throughput", "seqexp tok/s", "ratio", "Padding waste", "Encoder step",
                 "Seq2seq decoding", "peak RSS"):
        assert text in proc.stdout
    assert "GPU available" not in proc.stdout + proc.stderr  # Lightning's banners stay quiet


@pytest.mark.slow  # collects the whole suite for its gpu marker
def test_the_device_check_runs_end_to_end_as_a_dry_run(tmp_path):
    """``device_check=true dry_run=true``: the GPU session's one command, on the CPU at tiny sizes; every section
    runs, the GPU tests are collected (and skipped here), the JSON and the printed tables are written."""
    out = tmp_path / "check" / "device_check.json"
    proc = run_module("seqexp.bench", "device_check=true", "dry_run=true", "tasks=classify", "models=gru", "threads=1",
                      f"out={out}", timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["meta"]["device"] == "cpu" and result["training"] and result["decoding"]
    [row] = result["crf"]["rows"]
    assert row["batch_size"] == 8 and row["train_sentences_per_s"] > 0 and row["decode_sentences_per_s"] > 0
    tests = result["gpu_tests"]
    assert tests["tests"] >= 20 and tests["skipped"] == tests["tests"] and tests["failures"] == tests["errors"] == 0
    assert "BiLSTM-CRF" in out.with_suffix(".txt").read_text() and "GPU tests (pytest -m gpu)" in proc.stdout
