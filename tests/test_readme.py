"""Every ``python -m seqexp ...`` command line in README.md composes and passes the config schema (no training):
the docs cannot drift from conf/ again."""

import re
import shlex
from pathlib import Path

import pytest

from seqexp.run.schema import check_config

README = Path(__file__).resolve().parents[1] / "README.md"
SWEEP_FLAGS = ("-m", "--multirun")


def commands() -> list[list[str]]:
    """The arguments of each ``python -m seqexp`` command in README.md's bash blocks; a sweep (``a,b,c``) is
    composed with its first value."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i in range(len(words) - 2):
                if words[i].endswith("python") and words[i + 1:i + 3] == ["-m", "seqexp"]:
                    args = words[i + 3:words.index("&")] if "&" in words else words[i + 3:]
                    sweep = any(a in SWEEP_FLAGS for a in args)
                    found.append([_first_value(a) if sweep else a for a in args if a not in SWEEP_FLAGS])
    return found


def _first_value(arg: str) -> str:
    key, _, value = arg.partition("=")
    return f"{key}={value.split(',')[0]}" if "," in value and not value.startswith("[") else arg


COMMANDS = commands()


def test_the_readme_has_commands():
    assert len(COMMANDS) > 25 and [] in COMMANDS  # the bare `python -m seqexp` too


@pytest.mark.parametrize("args", [c for c in COMMANDS if "--cfg" not in c], ids=" ".join)
def test_each_readme_command_composes_and_passes_the_schema(make_cfg, args):
    check_config(make_cfg(*args))
