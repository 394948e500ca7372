"""``python -m seqexp.predict ckpt=RUN/checkpoints/x.ckpt [input=FILE|-] [output=FILE|-] [batch_size=64]``.

Reads raw text, one example per line (stdin by default), and writes one JSON object per line: the label of a
classifier, the tags of a tagger, the translation of a seq2seq model, the continuation of a language model.
The checkpoint alone carries the vocabularies and tokenizer settings; ``task.*`` overrides its settings.
"""

import json
import logging
import sys
from pathlib import Path

import torch

from seqexp.errors import ConfigError, DataError
from seqexp.evaluate import load_run, run_cli

log = logging.getLogger("seqexp.predict")


def predict(args: list[str]) -> int:
    """Write predictions; returns how many lines were predicted."""
    _, model, options, _ = load_run(args, ("ckpt", "sweep", "input", "output", "batch_size"))
    source = options.get("input", "-")
    if source != "-" and not Path(source).is_file():
        raise ConfigError(f"input: file not found: {source}")
    lines = (sys.stdin if source == "-" else open(source, encoding="utf-8")).read().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{source}:{number}: empty line (one example per line)")
    size = int(options.get("batch_size", 64))
    model.eval()
    with torch.no_grad():
        rows = [row for i in range(0, len(lines), size) for row in model.predict(lines[i:i + size])]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    target = options.get("output", "-")
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
        log.info("wrote %d predictions to %s", len(rows), target)
    return len(rows)


if __name__ == "__main__":
    run_cli(predict)
