"""``python -m seqexp.data.download NAME [data_dir=DIR]``: fetch a standard corpus ahead of time and print its
directory (seqexp.data.registry lists them; seqexp.data.fetch fetches). An entry point: it may import run/."""

import sys
from dataclasses import dataclass, field

from seqexp.data.fetch import default_data_dir, fetch
from seqexp.data.registry import CORPORA
from seqexp.errors import ConfigError
from seqexp.run.cli import parse, run_cli


@dataclass
class Options:
    name: list[str] = field(default_factory=list)  # the corpus (a bare word)
    data_dir: str = field(default_factory=default_data_dir)


def download(argv: list[str]) -> None:
    options, _ = parse(argv, Options, positional="name")
    if len(options.name) != 1:
        raise ConfigError(f"which corpus? python -m seqexp.data.download NAME, NAME one of {', '.join(CORPORA)}")
    print(fetch(options.name[0], options.data_dir))


def main(argv: list[str] | None = None) -> int:
    """0 after printing the corpus dir; 2 with a one-line error when it cannot be fetched."""
    return run_cli(download, argv, plain=True)


if __name__ == "__main__":
    sys.exit(main())
