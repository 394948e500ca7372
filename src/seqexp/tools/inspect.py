"""``python -m seqexp.inspect ckpt=RUN/checkpoints/x.ckpt text="..." | input=FILE [units=3,17] [top=32] [out=DIR]``:
what a trained recurrent network computes, as heatmaps of its hidden units and, for gated cells, of each gate, token
by token (seqexp.tools.activations), the units sorted by how much they change over the text (or ``units=``, indices
into the encoder's ``D*H`` outputs); for a seq2seq model with attention, also where its translation looked. Writes
PNGs and ``inspect.html`` (self-contained) into ``out`` (default: ``RUN/inspect``)."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np

from seqexp import interrupts
from seqexp.constraints import Positive
from seqexp.data.text import read_lines
from seqexp.errors import ConfigError, DataError
from seqexp.plots.figures import heatmap
from seqexp.plots.html import Page
from seqexp.run.cli import parse, run_cli
from seqexp.run.rundir import RunDir
from seqexp.run.runs import checkpoint_paths, load_run
from seqexp.tasks.cond import ConditionalGenerator
from seqexp.tools.activations import Activations, activations, selective

log = logging.getLogger("seqexp.inspect")


@dataclass
class Options:
    ckpt: str | None = None
    text: str | None = None
    input: str | None = None  # a file: one text per line
    units: list[int] | None = None
    top: Annotated[int, Positive] = 32
    out: str | None = None


def inspect(argv: list[str]) -> Path:
    """Write the heatmaps and inspect.html; returns the page's path."""
    options, _ = parse(argv, Options)
    if (options.text is None) == (options.input is None):
        raise ConfigError('text="..." or input=FILE (one text per line): give one')
    ckpt = checkpoint_paths(options.ckpt)[0]
    interrupts.enter("loading the checkpoint")
    _, model = load_run([ckpt])
    if not model.reads_text or isinstance(model, ConditionalGenerator):
        raise ConfigError(f"ckpt: a task={type(model).__name__.lower()} model reads no text: seqexp.inspect shows "
                          "what the encoder of a classifier, a tagger, a language model or a seq2seq model reads")
    texts = _texts(options, model)
    size = model.encoder.output_size
    if options.units and not all(0 <= u < size for u in options.units):
        raise ConfigError(f"units: {[u for u in options.units if not 0 <= u < size][0]} is not a unit of this "
                          f"encoder (0 to {size - 1}: {size} outputs)")
    out = Path(options.out) if options.out else RunDir.of(ckpt).path / "inspect"
    out.mkdir(parents=True, exist_ok=True)
    interrupts.enter("drawing", "the pictures drawn so far stay; inspect.html is written last, whole")
    sentences = [activations(model, text) for text in texts]
    page = Page(f"seqexp inspect: {ckpt}")
    page.text(f"cell {model.hparams.encoder['cell']}, {len(sentences[0].maps)} layer(s), {size} outputs; rows: "
              + (f"units {options.units}" if options.units else f"the {options.top} units that vary most over the "
                 "text, most first (> forward, < backward direction)"))
    rows = {(layer, name): options.units or selective(sentences, layer, name, options.top)
            for layer, maps in enumerate(sentences[0].maps) for name in maps}
    align = getattr(model, "align", None)
    for i, (text, sentence) in enumerate(zip(texts, sentences, strict=True)):
        page.heading(f"{i}: {text}")
        for (layer, name), units in rows.items():
            _draw(page, out / f"s{i}_{name}_l{layer}.png", sentence, layer, name, units)
        found = align(text) if align is not None else None
        if found is not None:
            source, output, weights = found
            fig = heatmap(weights, output, source, "attention weights", "source", "output", "Greys", 0, 1)
            fig.savefig(out / f"s{i}_attention.png")
            page.figure(f"attention_{i}", fig)
    path = page.write(out / "inspect.html")
    log.info("wrote %s and its PNGs", path)
    print(path)
    return path


def _texts(options: Options, model) -> list[str]:
    """The texts, each one the model can read; a file's bad line is named by its number."""
    lines = [(1, options.text)] if options.text is not None else list(read_lines(options.input))
    if not lines:
        raise DataError(f"{options.input}: no text in the file")
    for number, line in lines:
        if problem := model.check_input(line):
            raise DataError(f"{options.input}:{number}: {problem}" if options.input else f"text: {problem}")
    return [line for _, line in lines]


def _draw(page: Page, path: Path, sentence: Activations, layer: int, name: str, units: list[int]) -> None:
    values = sentence.maps[layer][name][units]  # [U, T]
    labels = [sentence.units[u] for u in units]
    if name == "hidden":  # signed: tanh in (-1, 1), relu cells unbounded
        scale = float(np.abs(values).max()) or 1.0
        fig = heatmap(values, labels, sentence.words, f"layer {layer}: hidden units", "token", "unit", "RdBu_r",
                      -scale, scale)
    else:
        fig = heatmap(values, labels, sentence.words, f"layer {layer}: {name} gate", "token", "unit", "viridis", 0, 1)
    fig.savefig(path)
    page.figure(path.stem, fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m seqexp.inspect``: 0, or 2 with one line for a bad checkpoint, option or text."""
    return run_cli(inspect, argv, plain=True)
