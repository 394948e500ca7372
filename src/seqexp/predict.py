"""``python -m seqexp.predict ckpt=RUN/checkpoints/x.ckpt [input=FILE|-] [output=FILE|-] [batch_size=64]``.

Reads raw text, one example per line (stdin by default; lines end at \\n, \\r\\n or \\r, as the training readers
read them), and writes one JSON object per line, exactly one per input line: the label of a classifier, the
tags of a tagger, the translation of a seq2seq model, the continuation of a language model.
The checkpoint alone carries the vocabularies and tokenizer settings; ``task.*`` overrides its settings.
"""

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch

from seqexp import interrupts
from seqexp.constraints import Positive
from seqexp.data.text import read_lines, split_lines
from seqexp.errors import ConfigError, DataError
from seqexp.run.cli import parse, run_cli
from seqexp.run.runs import checkpoint_paths, load_run
from seqexp.tasks.base import SeqTask

log = logging.getLogger("seqexp.predict")


@dataclass
class Options:
    ckpt: Any = None  # a path, or a [list] of paths: an ensemble
    sweep: str | None = None
    input: str = "-"
    output: str = "-"
    batch_size: Annotated[int, Positive] = 64


def predict(args: list[str]) -> int:
    """Write predictions; returns how many lines were predicted."""
    options, others = parse(args, Options, overrides=True)
    overrides = [(o.key_or_group, o.value()) for o in others]
    interrupts.enter("loading the checkpoint")
    _, model = load_run(checkpoint_paths(options.ckpt, options.sweep), overrides)
    if not model.reads_text:
        raise ConfigError(f"ckpt: a task={type(model).__name__.lower()} model reads generated sequences, not "
                          "text: there is nothing for seqexp.predict to read; score it with python -m "
                          "seqexp.evaluate ckpt=...")
    source = options.input
    if source != "-" and not Path(source).is_file():
        raise ConfigError(f"input: file not found: {source}")
    name = "<stdin>" if source == "-" else source
    lines = [line for _, line in (split_lines(sys.stdin.buffer, name) if source == "-" else read_lines(source))]
    interrupts.enter("predicting", "nothing was written (the output is written at the end, whole)")
    text = "".join(json_line(row) for row in predict_lines(model, lines, name, options.batch_size))
    target = options.output
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        log.info("wrote %d predictions to %s", len(lines), target)
    return len(lines)


def predict_lines(model: SeqTask, lines: list[str], name: str, batch_size: int = 64) -> list[dict]:
    """One prediction per line, in order. Lines are read as the training readers read them (split at ``\\n``,
    ``\\r\\n`` and ``\\r`` only), so N lines in give N rows out; a line the model cannot read is a DataError naming
    ``name:line``."""
    for number, line in enumerate(lines, start=1):
        problem = model.check_input(line)
        if problem:
            raise DataError(f"{name}:{number}: {problem}")
    model.eval()
    with torch.no_grad():
        return [row for i in range(0, len(lines), batch_size) for row in model.predict(lines[i:i + batch_size])]


def json_line(row: dict) -> str:
    """One JSON object on one line. ``json`` escapes ``\\n`` and the other control characters; U+0085, U+2028 and
    U+2029 are escaped too, as readers that split at them (``str.splitlines``, JavaScript) would see more lines."""
    return json.dumps(row, ensure_ascii=False).translate(LINE_BREAKS) + "\n"


LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


if __name__ == "__main__":
    sys.exit(run_cli(predict))
