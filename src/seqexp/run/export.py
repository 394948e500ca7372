"""A trained classifier or tagger as a file that runs without seqexp: TorchScript (``torch.jit.load``) or ONNX
(onnxruntime, or any ONNX runtime), plus ``model.json``, all a program needs to turn text into its inputs and its
outputs into labels. The file is checked against the checkpoint before the command returns."""

import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from seqexp.data.text import SIMPLE
from seqexp.errors import ConfigError
from seqexp.run.checkpoints import load_model
from seqexp.run.rundir import RunDir
from seqexp.run.runs import write_json
from seqexp.tasks.base import SeqTask
from seqexp.tasks.export import exportable

log = logging.getLogger("seqexp.export")

FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}
AXES = {"tokens": ["batch", "time"], "lengths": ["batch"], "chars": ["batch", "time", "width"],
        "labels": ["batch"], "tags": ["batch", "time"]}  # dynamic axes; scores: those of labels or tags, + 1


def export(ckpt: Path, fmt: str = "torchscript", out: Path | None = None) -> Path:
    """Write ``out/model.pt`` (or ``model.onnx``) and ``out/model.json`` (default ``out``: the run's export/);
    returns the model file."""
    if fmt not in FORMATS:
        raise ConfigError(f"format: unknown format {fmt!r} (expected {' or '.join(FORMATS)})")
    head = load_model(ckpt)
    module = exportable(head)
    out = Path(out) if out is not None else RunDir.of(ckpt).export
    out.mkdir(parents=True, exist_ok=True)
    path = out / FORMATS[fmt]
    inputs = sample_inputs(head, lengths=(5, 2))
    names = ["tokens", "lengths", "chars"][:len(inputs)]
    with torch.no_grad(), warnings.catch_warnings():  # what they warn of is checked below, on other shapes
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript, and the ONNX exporter built on it: the
        if fmt == "torchscript":  # ones that export packed sequences and a scripted Viterbi loop
            torch.jit.trace(module, inputs, check_trace=False).save(str(path))
        else:
            axes = {name: dict(enumerate(AXES[name])) for name in [*names, module.outputs[1]]}
            axes["scores"] = dict(enumerate(AXES[module.outputs[1]]))  # and classes, fixed
            torch.onnx.export(module, inputs, str(path), dynamo=False, input_names=names,
                              output_names=list(module.outputs), dynamic_axes=axes)
    write_json(out / "model.json", describe(head, ckpt, names, module.outputs))
    log.info("wrote %s and %s", path, out / "model.json")
    check(path, module, sample_inputs(head, lengths=(1, 9, 31, 4)))
    return path


def sample_inputs(head: SeqTask, lengths: tuple[int, ...]) -> tuple[Tensor, ...]:
    """A batch of texts of these lengths, of the model's words and one it does not know, encoded as in
    prediction: what the export traces and is checked on."""
    words = head.vocab.itos[4:] or ["x"]  # after the specials
    pick = torch.randint(len(words), (sum(lengths),), generator=torch.Generator().manual_seed(0)).tolist()
    picked = iter([words[i] for i in pick[:-1]] + ["Qwxzv-unseen"])
    batch, _ = head.batch_from_texts([" ".join(next(picked) for _ in range(n)) for n in lengths])
    return (batch["tokens"], batch["lengths"], *([batch["chars"]] if "chars" in batch else []))


def describe(head: SeqTask, ckpt: Path, inputs: list[str], outputs: tuple[str, ...]) -> dict:
    """model.json: the head, its inputs and outputs, and how text becomes inputs: tokenize (whitespace, or
    ``pattern``'s matches), look each word up in ``vocab`` (lowercased first with ``lowercase``; missing:
    ``unk_index``), its first ``max_word_len`` characters, case kept, in ``chars`` (missing: ``char_unk_index``,
    padding 0)."""
    hparams, settings = head.hparams, head.hparams.get("tokenizer") or {}
    tokenizer = settings.get("tokenizer", "whitespace")
    return {
        "checkpoint": str(ckpt), "head": type(head).__name__.lower(), "inputs": inputs, "outputs": list(outputs),
        "tokenizer": tokenizer, "pattern": SIMPLE.pattern if tokenizer == "simple" else None,
        "lowercase": bool(settings.get("lowercase", False)),
        "vocab": list(hparams.vocab), "pad_index": head.vocab.pad_index, "unk_index": head.vocab.unk_index,
        "chars": list(hparams.chars) if head.chars else None,
        "char_unk_index": head.chars.unk_index if head.chars else None,
        "max_word_len": settings.get("max_word_len") if head.chars else None,
        "labels": list(hparams.labels), "scheme": hparams.get("scheme"), "crf": bool(hparams.get("crf")),
    }


def run_exported(path: Path, inputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
    """The exported file's outputs on ``inputs``, as a program using it would get them."""
    if path.suffix == ".pt":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path))(*inputs)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
    return tuple(torch.from_numpy(y) for y in session.run(None, feed))


def check(path: Path, module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
    """The exported file gives the checkpoint's labels and scores on a batch of other shapes than the traced one;
    a difference is a bug of the export, not the user's."""
    try:
        got = run_exported(path, inputs)
    except ImportError:
        log.warning("onnxruntime is not installed: %s was not checked (pip install onnxruntime)", path)
        return
    with torch.no_grad():
        expected = module(*inputs)
    gap = (got[0] - expected[0]).abs().max().item()
    if not torch.equal(got[1], expected[1]) or gap > 1e-4:
        raise RuntimeError(f"{path} differs from the checkpoint: labels equal {torch.equal(got[1], expected[1])}, "
                           f"scores up to {gap:.2e} apart")
    log.info("checked on %d texts of other lengths: the checkpoint's labels, scores within %.1e",
             len(inputs[1]), gap)
