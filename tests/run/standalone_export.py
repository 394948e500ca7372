"""Runs an exported seqexp model the way a user's program would: torch or onnxruntime, numpy, and model.json; with
seqexp unimportable. ``python -I standalone_export.py EXPORT_DIR torchscript|onnx TEXTS OUT`` writes one JSON line
per text: its label (classifier) or tags (tagger), and the scores."""

import json
import re
import sys


class NoSeqexp:
    """An import of seqexp fails: the exported model must need none."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "seqexp":
            raise ImportError(f"{name}: an exported model runs without seqexp")


sys.meta_path.insert(0, NoSeqexp())

import numpy as np  # noqa: E402

export, fmt, texts, out = sys.argv[1:]
meta = json.load(open(f"{export}/model.json"))
words = {w: i for i, w in enumerate(meta["vocab"])}
chars = {c: i for i, c in enumerate(meta["chars"] or [])}


def tokenize(text: str) -> list[str]:
    return re.findall(meta["pattern"], text) if meta["pattern"] else text.split()


def inputs(batch: list[list[str]]) -> list[np.ndarray]:
    """tokens [B, T], lengths [B] (and chars [B, T, W]), padded with 0."""
    batch_chars = [[w[:meta["max_word_len"]] for w in ws] for ws in batch]  # the characters the model reads
    longest, widest = max(map(len, batch)), max(len(w) for ws in batch_chars for w in ws)
    tokens, lengths = np.zeros((len(batch), longest), np.int64), np.array([len(ws) for ws in batch], np.int64)
    letters = np.zeros((len(batch), longest, widest), np.int64)
    for b, (ws, cs) in enumerate(zip(batch, batch_chars, strict=True)):
        for t, (w, c) in enumerate(zip(ws, cs, strict=True)):
            tokens[b, t] = words.get(w.lower() if meta["lowercase"] else w, meta["unk_index"])
            letters[b, t, :len(c)] = [chars.get(x, meta["char_unk_index"]) for x in c] if chars else 0
    return [tokens, lengths, letters][:len(meta["inputs"])]


if fmt == "onnx":
    import onnxruntime

    session = onnxruntime.InferenceSession(f"{export}/model.onnx", providers=["CPUExecutionProvider"])

    def run(xs: list[np.ndarray]) -> list[np.ndarray]:
        return session.run(None, dict(zip(meta["inputs"], xs, strict=True)))
else:
    import torch

    model = torch.jit.load(f"{export}/model.pt")

    def run(xs: list[np.ndarray]) -> list[np.ndarray]:
        return [y.numpy() for y in model(*map(torch.from_numpy, xs))]

lines = [tokenize(line) for line in open(texts, encoding="utf-8").read().splitlines()]
with open(out, "w") as f:
    for start in range(0, len(lines), 50):
        batch = lines[start:start + 50]
        scores, labels = run(inputs(batch))
        for ws, s, y in zip(batch, scores, labels, strict=True):
            row = ({"label": meta["labels"][y], "scores": s.tolist()} if meta["head"] == "classifier" else
                   {"tags": [meta["labels"][i] for i in y[:len(ws)]], "scores": s[:len(ws)].tolist()})
            f.write(json.dumps(row) + "\n")
assert not any(name.split(".")[0] == "seqexp" for name in sys.modules)
