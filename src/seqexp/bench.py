"""``python -m seqexp.bench [key=value ...]``: seqexp against a plain PyTorch loop (seqexp.tools.bench)."""

import sys

from seqexp.run.cli import run_cli
from seqexp.tools.bench import main

if __name__ == "__main__":
    sys.exit(run_cli(main))
