"""``python -m seqexp.bench`` runs end to end on a tiny size; no timing target is asserted (it is a benchmark)."""

import json
import math

from helpers import run_module


def test_bench_runs_on_a_tiny_size(tmp_path):
    # one thread: two threads on two cores stall on each other's spin-waits whenever anything else runs
    out = tmp_path / "b.json"
    proc = run_module("seqexp.bench", "tasks=classify", "models=gru", "steps=3", "warmup=2", "rounds=1", "quick=true",
                      "threads=1", f"out={out}", timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"meta", "training", "padding", "encoder", "decoding", "notes"} <= set(result)
    assert result["meta"]["threads"] == 1 and result["meta"]["torch"]

    [row] = result["training"]
    assert (row["task"], row["model"], row["steps"]) == ("classify", "gru", 3)
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
    assert set(cells) == {("cudnn", "lstm"), ("scratch", "lstm"), ("scratch", "lnlstm")}
    assert all(r["ms_per_step"] > 0 for r in cells.values())
    assert cells["cudnn", "lstm"]["ratio_vs_cudnn_lstm"] == 1.0

    beams = {r["beam_size"]: r for r in result["decoding"]["rows"]}
    assert set(beams) == {1, 5} and all(r["sentences_per_s"] > 0 for r in beams.values())

    for text in ("Training throughput", "seqexp tok/s", "ratio", "Padding waste", "Encoder step",
                 "Seq2seq decoding", "peak RSS"):
        assert text in proc.stdout
    assert "GPU available" not in proc.stdout + proc.stderr  # Lightning's banners stay quiet
