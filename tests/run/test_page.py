"""The run page (seqexp.run.page) from a run folder's files; and what a trained model records for it."""

import json
import re

import pytest

from seqexp.run import page
from seqexp.run.rundir import RunDir

RESULT = {"metrics": {"val/f1": 0.5, "test/f1": 0.4, "test/f1_PER": 0.6, "test/precision_PER": 0.7,
                      "test/recall_PER": 0.5, "test/f1_LOC": 0.2, "test/precision_LOC": 0.1, "test/recall_LOC": 0.3},
          "directions": {"val/f1": "max", "test/f1": "max"}, "monitor": "val/f1", "epochs": 2, "seconds": 75,
          "best_checkpoint": "checkpoints/epoch01.ckpt", "overrides": ["task=ner", "model.hidden_size=8"],
          "choices": {"task": "ner", "model": "bilstm", "data": "wnut17"}}


def test_the_page_shows_what_the_run_folder_holds(tmp_path):
    run = RunDir(tmp_path)
    run.confusion.write_text("gold \\ predicted,A,B\nA,3,1\nB,0,2\n")
    run.attention.write_text(json.dumps([{"source": ["a", "b"], "output": ["x", "<eos>"],
                                          "weights": [[0.9, 0.1], [0.2, 0.8]]}]))
    run.shown.write_text(json.dumps([{"index": 4, "wrong": True, "row": {"input": "Ann <b>", "gold": "PER"}},
                                     {"index": 9, "wrong": False, "row": {"input": "Rome", "gold": "LOC"}}]))
    run.grad_flow.write_text("step,layer,direction,distance,norm\n0,0,0,0,1.0\n0,0,0,1,0.5\n")
    drawn = page.write(run, RESULT)
    assert set(drawn.figures) == {"confusion_matrix", "attention_0", "grad_flow", "per_type"}  # no csv: no curves
    assert sorted(p.stem for p in run.pictures.iterdir()) == sorted(drawn.figures)
    text = run.page.read_text()
    assert re.findall(r'<img alt="([^"]+)"', text) == ["confusion_matrix", "per_type", "attention_0", "grad_flow"]
    assert "python -m seqexp task=ner model.hidden_size=8" in text and "1 min 15 s" in text
    assert "f1 (monitored)" in text and "<td class=\"num\">0.4000</td>" in text and "f1_PER" not in text
    assert "<tr class='wrong'><td>Ann &lt;b&gt;</td>" in text and "<tr class='right'><td>Rome</td>" in text
    bars = drawn.figures["per_type"].axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.7, 0.1, 0.5, 0.3, 0.6, 0.2]  # P, R, F1 of PER, LOC


def test_a_run_without_test_predictions_or_pictures_has_a_plain_page(tmp_path):
    run = RunDir(tmp_path)
    result = {**RESULT, "metrics": {"val/acc": 0.9}, "monitor": "val/acc"}
    assert page.write(run, result).figures == {}
    assert "acc (monitored)" in run.page.read_text()


@pytest.mark.slow
def test_an_attention_run_records_where_its_translations_looked(trained):
    run = RunDir(trained("seq2seq"))
    shown = json.loads(run.shown.read_text())
    maps = json.loads(run.attention.read_text())
    assert len(maps) == page.ALIGNED
    for item, row in zip(maps, shown, strict=False):
        assert " ".join(item["source"]) == row["row"]["source"]
        assert len(item["weights"]) == len(item["output"]) > 0
        assert "<eos>" not in item["output"][:-1]  # the rows end with the step that wrote <eos>
        for weights in item["weights"]:
            assert len(weights) == len(item["source"]) and sum(weights) == pytest.approx(1, abs=1e-5)
