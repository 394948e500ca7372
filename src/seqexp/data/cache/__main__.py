"""``python -m seqexp.data.cache clear [cache_dir=DIR]``: remove the tokenized cache (``seqexp.data.cache``). An
entry point: it may import run/."""

import sys
from dataclasses import dataclass, field

from seqexp.data.cache import clear, default_dir
from seqexp.errors import ConfigError
from seqexp.run.cli import parse, run_cli


@dataclass
class Options:
    command: list[str] = field(default_factory=list)  # clear
    cache_dir: str = field(default_factory=default_dir)  # as conf/data_defaults.yaml


def command(argv: list[str]) -> None:
    options, _ = parse(argv, Options, positional="command")
    if options.command != ["clear"]:
        raise ConfigError("usage: python -m seqexp.data.cache clear [cache_dir=DIR]")
    print(f"removed {clear(options.cache_dir)} cache entries from {options.cache_dir}")


def main(argv: list[str] | None = None) -> int:
    """0 after clearing; 2 with a one-line error for anything but ``clear``."""
    return run_cli(command, argv, plain=True)


if __name__ == "__main__":
    sys.exit(main())
