"""Every ``python -m seqexp ...`` command line in README.md composes and passes the config schema (no training):
the docs cannot drift from conf/ again."""

import re
import shlex
from pathlib import Path

import pytest
from omegaconf import DictConfig

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


GROUP_KEY = re.compile(r"`\+?((?:model|task|data|trainer|callbacks|optimizer|scheduler|logger)(?:\.\w+)+)(?:=[^`]*)?`")
TASKS = ("classify", "ner", "pos", "lm", "seq2seq", "cond", "adding", "copy")
NOT_KEYS = {"model.hiden_size",  # the misspelt key of the "did you mean" example
            "model.json", "model.onnx"}  # files the export writes


def _keys(node, prefix: str = "") -> set[str]:
    """Every dotted key of a composed config (``task.decoder.attention``)."""
    if not isinstance(node, DictConfig):
        return set()
    found = set()
    for key in node.keys():
        path = f"{prefix}{key}"
        found |= {path} | _keys(node._get_node(key), f"{path}.")
    return found


def test_every_config_key_the_readme_names_exists(make_cfg):
    """A key README names in its text (`model.compile_step`, `task.length_penalty=0.6`) is a key of some config it
    describes: one of its commands', or a task's defaults; a renamed or removed key fails here."""
    known = set()
    for args in [*(c for c in COMMANDS if "--cfg" not in c), *([f"task={t}"] for t in TASKS)]:
        known |= _keys(make_cfg(*args))
    named = set(GROUP_KEY.findall(README.read_text()))
    assert len(named) > 40
    missing = sorted(key for key in named - NOT_KEYS if key not in known)
    assert not missing, f"README names config keys that no config has: {missing}"
