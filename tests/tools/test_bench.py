"""``python -m seqexp.bench`` runs end to end on a tiny size; no timing target is asserted (it is a benchmark)."""

import json
import math

import pytest
import torch

from helpers import run_module
from seqexp.models import cells
from seqexp.tools.bench.render import render
from seqexp.tools.bench.sections import bench_encoders


def test_bench_runs_on_a_tiny_size(tmp_path):
    # one thread: two threads on two cores stall on each other's spin-waits whenever anything else runs
    out = tmp_path / "b.json"
    proc = run_module("seqexp.bench", "tasks=classify,ner", "models=gru", "steps=3", "warmup=2", "rounds=1",
                      "quick=true", "threads=1", f"out={out}", timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"meta", "training", "padding", "encoder", "scan", "decoding", "packing", "notes"} <= set(result)
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
    assert set(cells) == {("raw", "lstm"), ("cudnn", "lstm"), ("scratch", "lstm"), ("scratch", "lnlstm"),
                          ("scratch", "indrnn"), ("scratch", "mingru"), ("scratch", "minlstm"),
                          ("scratch+compile", "lstm"), ("scratch+compile", "lnlstm")}
    assert all(r["ms_per_step"] > 0 and r["warmup_s"] > 0 for r in cells.values())
    assert cells["cudnn", "lstm"]["ratio"] == 1.0 and result["encoder"]["failed"] == []
    scan = {(r["impl"], r["cell"]): r for r in result["scan"]["rows"]}
    assert set(scan) == {("cudnn", "gru"), ("scratch", "gru"), ("scratch", "mingru"), ("scratch", "minlstm")}
    assert scan["scratch", "gru"]["ratio"] == 1.0 and all(r["ms_per_step"] > 0 for r in scan.values())
    assert result["scan"]["shape"]["bidirectional"] is False and result["scan"]["baseline"] == "scratch gru"

    beams = {r["beam_size"]: r for r in result["decoding"]["rows"]}
    assert set(beams) == {1, 5} and all(r["sentences_per_s"] > 0 for r in beams.values())

    paths = {r["path"]: r for r in result["packing"]["rows"]}
    assert set(paths) == {"torch enforce_sorted=False", "host-sorted (seqexp)", "padded, no packing (inexact)"}
    assert paths["torch enforce_sorted=False"]["ratio_vs_torch"] == 1.0
    assert all(r["tokens_per_s"] > 0 for r in paths.values())

    for text in ("Training throughput", "Packing", "seqexp tok/s", "ratio", "Padding waste", "Encoder step",
                 "vs cudnn lstm", "The parallel scan against the loop", "vs scratch gru", "Seq2seq decoding",
                 "peak RSS"):
        assert text in proc.stdout
    assert "GPU available" not in proc.stdout + proc.stderr  # Lightning's banners stay quiet


def test_an_encoder_that_fails_to_compile_is_reported_and_the_others_timed(monkeypatch):
    """A machine without the compiler torch.compile needs (Triton on a GPU, a C++ compiler on a CPU) still gets
    the rest of the encoder table, and the reason the compiled rows are missing."""
    def no_compiler():
        raise RuntimeError("no working C++ compiler found\nthe rest of a long message")

    monkeypatch.setattr(cells, "compiled_advance", no_compiler)
    section = bench_encoders(reps=1, rounds=1, device=torch.device("cpu"))
    assert {(r["impl"], r["cell"]) for r in section["rows"]} == {
        ("raw", "lstm"), ("cudnn", "lstm"), ("scratch", "lstm"), ("scratch", "lnlstm"), ("scratch", "indrnn"),
        ("scratch", "mingru"), ("scratch", "minlstm")}
    error = "RuntimeError: no working C++ compiler found"
    assert section["failed"] == [{"impl": "scratch+compile", "cell": c, "error": error} for c in ("lstm", "lnlstm")]
    meta = {"torch": "2", "lightning": "2", "threads": 1, "cpu_count": 2, "device": "cpu",
            "other_seqexp_processes": [], "loadavg_at_start": None}
    assert "scratch+compile lnlstm failed: RuntimeError: no working C++ compiler found" in render(
        {"meta": meta, "encoder": section, "notes": []})


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
