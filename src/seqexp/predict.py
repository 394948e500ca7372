"""``python -m seqexp.predict ckpt=RUN/checkpoints/x.ckpt [input=FILE|-] [output=FILE|-] [batch_size=64]``.

Reads raw text, one example per line (stdin by default), and writes one JSON object per line: the label of a
classifier, the tags of a tagger, the translation of a seq2seq model, the continuation of a language model.
The checkpoint alone carries the vocabularies and tokenizer settings; ``task.*`` overrides its settings.
"""

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqexp.errors import ConfigError, DataError
from seqexp.run.cli import parse, run_cli
from seqexp.run.runs import checkpoint_paths, load_run

log = logging.getLogger("seqexp.predict")


@dataclass
class Options:
    ckpt: Any = None  # a path, or a [list] of paths: an ensemble
    sweep: str | None = None
    input: str = "-"
    output: str = "-"
    batch_size: int = 64


def predict(args: list[str]) -> int:
    """Write predictions; returns how many lines were predicted."""
    options, others = parse(args, Options, overrides=True)
    overrides = [(o.key_or_group, o.value()) for o in others]
    _, model = load_run(checkpoint_paths(options.ckpt, options.sweep), overrides)
    source = options.input
    if source != "-" and not Path(source).is_file():
        raise ConfigError(f"input: file not found: {source}")
    lines = (sys.stdin if source == "-" else open(source, encoding="utf-8")).read().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{source}:{number}: empty line (one example per line)")
    size = options.batch_size
    model.eval()
    with torch.no_grad():
        rows = [row for i in range(0, len(lines), size) for row in model.predict(lines[i:i + size])]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    target = options.output
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        log.info("wrote %d predictions to %s", len(rows), target)
    return len(rows)


if __name__ == "__main__":
    sys.exit(run_cli(predict))
