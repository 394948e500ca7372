"""``python -m seqexp.predict``: raw text in, JSONL out, from the checkpoint alone."""

import json
import subprocess

from helpers import read_metrics, run_module


def predict(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return run_module("seqexp.predict", *args, stdin=stdin, timeout=300)


def test_classifier_round_trip_from_stdin(trained):
    run = trained("classify")
    ckpt = run / read_metrics(run)["best_checkpoint"]
    odd = "Who wrote\u2028Hamlet\x0c ?\x85"  # breaks for str.splitlines, not for the training readers
    proc = predict(f"ckpt={ckpt}", stdin=f"What is the capital of France ?\r\n{odd}\rWho wrote Hamlet ?\n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # one line per input line, even so
    assert [r["text"] for r in rows] == ["What is the capital of France ?", odd, "Who wrote Hamlet ?"]
    rows = [rows[0], rows[2]]
    assert all(r["label"] in {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"} and 0 < r["probability"] <= 1
               for r in rows)
    twice = predict(f"ckpt=[{ckpt},{ckpt}]", stdin="What is the capital of France ?\nWho wrote Hamlet ?\n")
    assert [json.loads(line) for line in twice.stdout.splitlines()] == rows  # an ensemble of one model is it


def test_tagger_file_to_file(trained, tmp_path):
    run = trained("ner")
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("Obama visited Paris yesterday\nnew iphone from apple\n")
    proc = predict(f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"input={source}", f"output={target}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["tokens"] for r in rows] == [["Obama", "visited", "Paris", "yesterday"], ["new", "iphone", "from",
                                                                                        "apple"]]
    assert all(len(r["tags"]) == len(r["tokens"]) for r in rows)


def test_empty_line_is_reported(trained, tmp_path):
    run = trained("classify")
    source = tmp_path / "in.txt"
    source.write_text("fine\n\n")
    proc = predict(f"ckpt={run / 'checkpoints' / 'last.ckpt'}", f"input={source}")
    assert proc.returncode == 2 and f"{source}:2: empty line" in proc.stderr


def test_adding_and_copy_refuse_in_one_line(trained):
    for task in ("adding", "copy"):
        run = trained(task, "data.train_size=64", "data.val_size=32", "data.test_size=32", "data.length=10",
                      "model.hidden_size=8")
        proc = predict(f"ckpt={run / read_metrics(run)['best_checkpoint']}", stdin="1 2 3\n")
        assert proc.returncode == 2, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.endswith(f"ERROR] - ckpt: a task={task} model reads generated sequences, not text: there is "
                             "nothing for seqexp.predict to read; score it with python -m seqexp.evaluate ckpt=...")
        assert "Traceback" not in proc.stderr and "bug" not in proc.stderr
