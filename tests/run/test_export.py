"""``python -m seqexp.export``: the exported file gives the checkpoint's labels and scores, for any batch shape,
and runs in a program that has torch or onnxruntime and model.json but no seqexp."""

import json
import re
import sys
from pathlib import Path

import pytest
import torch

from helpers import data_module, run_module
from seqexp.data.vocab import SPECIALS
from seqexp.errors import ConfigError
from seqexp.run.checkpoints import load_model
from seqexp.run.cli import run_cli
from seqexp.run.export import export, run_exported, sample_inputs
from seqexp.tasks.base import SeqTask, mask
from seqexp.tasks.classify import Classifier
from seqexp.tasks.seq2seq import Seq2Seq
from seqexp.tasks.tag import Tagger

STANDALONE = Path(__file__).with_name("standalone_export.py")
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}
VOCAB = [*SPECIALS, "the", "The", "a", "cat", "sat", "on", "mat", ".", "New", "York"]
CHARS = ["<pad>", "<unk>", *sorted(set("".join(VOCAB[4:])))]


def encoder(cell: str = "lstm", **settings) -> dict:
    return {"_target_": "seqexp.models.encoder.Encoder", "cell": cell, "embedding_dim": 8, "hidden_size": 6,
            **settings}


HEADS = {
    "classifier-lstm-last": lambda: Classifier(labels=["x", "y", "z"], encoder=encoder(), vocab=VOCAB,
                                               optimizer=OPTIMIZER),
    "classifier-bigru-2-layers-attention-charlstm": lambda: Classifier(
        labels=["x", "y"], pooling="attention", vocab=VOCAB, chars=CHARS, optimizer=OPTIMIZER,
        encoder=encoder("gru", bidirectional=True, num_layers=2, char="lstm", char_out_dim=4)),
    "classifier-scratch-lstm-max": lambda: Classifier(labels=["x", "y"], pooling="max", vocab=VOCAB,
                                                      optimizer=OPTIMIZER, encoder=encoder(impl="scratch")),
    "tagger-rnn": lambda: Tagger(labels=["N", "V", "X"], scheme=None, vocab=VOCAB, optimizer=OPTIMIZER,
                                 encoder=encoder("rnn")),
    "tagger-bilstm-crf-charcnn": lambda: Tagger(labels=["B-LOC", "I-LOC", "O"], crf=True, vocab=VOCAB, chars=CHARS,
                                                optimizer=OPTIMIZER, tokenizer={"lowercase": True},
                                                encoder=encoder(bidirectional=True, char="cnn", char_out_dim=4)),
}


def save(head: SeqTask, tmp_path: Path) -> Path:
    """A checkpoint as training writes it, in a run dir's checkpoints/."""
    path = tmp_path / "run" / "checkpoints" / "x.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": head.state_dict(), "hyper_parameters": dict(head.hparams),
                "seqexp_task": f"{type(head).__module__}.{type(head).__name__}"}, path)
    return path


def reference(head: SeqTask, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's own outputs, as evaluation and prediction compute them: scores, and labels or tags."""
    with torch.no_grad():
        scores = head.eval()(batch)
    if getattr(head, "crf", None) is not None:
        return scores, head.crf.decode(scores, mask(batch["lengths"], scores.size(1)))
    return scores, scores.argmax(-1)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("name", HEADS)
def test_the_export_equals_the_head_for_any_batch_shape(name, fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    head = HEADS[name]()
    path = export(save(head, tmp_path), fmt)
    assert path == tmp_path / "run" / "export" / ("model.pt" if fmt == "torchscript" else "model.onnx")
    for lengths in ((1,), (3, 3), (12, 1, 5)):  # traced on (5, 2)
        inputs = sample_inputs(head, lengths)
        batch = dict(zip(["tokens", "lengths", "chars"][:len(inputs)], inputs, strict=True))
        (scores, labels), (want_scores, want_labels) = run_exported(path, inputs), reference(head, batch)
        assert torch.equal(labels, want_labels)
        torch.testing.assert_close(scores, want_scores, rtol=0, atol=1e-5)
    meta = json.loads((path.parent / "model.json").read_text())
    assert meta["vocab"] == VOCAB and meta["labels"] == head.labels.itos and meta["inputs"][:2] == ["tokens", "lengths"]
    assert (meta["chars"] == CHARS) == ("chars" in meta["inputs"]) == (head.chars is not None)


def test_what_cannot_be_exported_is_one_line_and_exit_2(tmp_path, caplog):
    lnlstm = Classifier(labels=["x", "y"], vocab=VOCAB, optimizer=OPTIMIZER, encoder=encoder("lnlstm", impl="scratch"))
    seq2seq = Seq2Seq(vocab=VOCAB, target_vocab=VOCAB, optimizer=OPTIMIZER, encoder=encoder(),
                      decoder={"cell": "gru", "embedding_dim": 8, "hidden_size": 6, "attention": "none"})
    for head, expected in ((lnlstm, "model.cell=lnlstm cannot be exported"),
                           (seq2seq, "a Seq2Seq cannot be exported (classifiers and taggers can)")):
        with pytest.raises(ConfigError, match=re.escape(expected)):
            export(save(head, tmp_path), "onnx")
    from seqexp.export import main

    ckpt = save(HEADS["tagger-rnn"](), tmp_path)
    assert run_cli(main, [f"ckpt={ckpt}", "format=tflite"]) == 2
    assert run_cli(main, []) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors[0] == "format: unknown format 'tflite' (expected torchscript or onnx)"
    assert errors[1].startswith("ckpt: which checkpoint? e.g. ckpt=outputs/") and len(errors) == 2


@pytest.fixture(scope="module")
def crf_run(trained):
    return trained("ner", "task.crf=true", "model.char=cnn")


@pytest.mark.parametrize(("task", "fmt"), [
    ("classify", "torchscript"),
    pytest.param("classify", "onnx", marks=pytest.mark.slow),
    pytest.param("ner", "torchscript", marks=pytest.mark.slow),
    pytest.param("ner", "onnx", marks=pytest.mark.slow),
    pytest.param("ner-crf", "torchscript", marks=pytest.mark.slow),
    pytest.param("ner-crf", "onnx", marks=pytest.mark.slow),
])
def test_an_exported_model_runs_without_seqexp_and_matches_the_checkpoint_on_the_test_set(task, fmt, trained,
                                                                                          tmp_path):
    """Through the command line; the program that runs it reads the test set as raw text and has no seqexp."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    run = trained(*(["ner", "task.crf=true", "model.char=cnn"] if task == "ner-crf" else [task]))
    ckpt = next((run / "checkpoints").glob("epoch*.ckpt"))
    proc = run_module("seqexp.export", f"ckpt={ckpt}", f"format={fmt}", f"out={tmp_path / 'export'}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "checked on 4 texts of other lengths: the checkpoint's labels" in proc.stderr

    head = load_model(ckpt).eval()
    data = data_module(f"task={task.removesuffix('-crf')}", chars=head.chars is not None, vocabs=head.vocabs)
    texts = [" ".join(data.words(ex)) for ex in data.read_splits()["test"]]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    standalone = run_module_isolated(STANDALONE, tmp_path / "export", fmt, tmp_path / "texts.txt", tmp_path / "out")
    assert standalone.returncode == 0, standalone.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "out").read_text().splitlines()]
    items = data.datasets["test"]
    assert len(rows) == len(items) == len(texts)
    for start in range(0, len(items), 64):
        batch = data.collate(items[start:start + 64])
        scores, labels = reference(head, batch)
        for row, n, s, y in zip(rows[start:start + 64], batch["lengths"].tolist(), scores, labels, strict=True):
            if "label" in row:
                assert row["label"] == head.labels.itos[y]
                torch.testing.assert_close(torch.tensor(row["scores"]), s, rtol=0, atol=1e-5)
            else:
                assert row["tags"] == head.labels.decode(y[:n].tolist())
                torch.testing.assert_close(torch.tensor(row["scores"]), s[:n], rtol=0, atol=1e-5)


def run_module_isolated(script: Path, *args):
    """``python -I script``: no PYTHONPATH, no user site; the script itself blocks any import of seqexp."""
    import subprocess

    return subprocess.run([sys.executable, "-I", str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=300)
