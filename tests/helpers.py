"""Helpers for tests that run the real command line."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

GPU = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
DEVICES = ["cpu", pytest.param("cuda", marks=GPU)]
"""Reference checks that matter on another backend run on the CPU and, where there is one, on a GPU."""

# Tests that train: no progress bar, so subprocess output stays readable.
QUICK = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


def run_module(module: str, *args: str, timeout: int = 600, cwd: Path | None = None, stdin: str | None = None,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m module *args`` in a subprocess, its output captured as text."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd, input=stdin)


def run_seqexp(run_dir: Path, *overrides: str, timeout: int = 600, script: bool = False,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real command line (``python -m seqexp`` or the ``seqexp`` console script) into ``run_dir``."""
    args = [f"hydra.run.dir={run_dir}", *QUICK, *overrides]
    if not script:
        return run_module("seqexp", *args, timeout=timeout, cwd=cwd or run_dir.parent)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([str(Path(sys.executable).parent / "seqexp"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd or run_dir.parent)


def start_seqexp(cwd: Path, *args: str) -> subprocess.Popen:
    """``python -m seqexp *args`` started in the background (e.g. several sweep workers at once); see finish."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "seqexp", *args, *QUICK], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, timeout: int = 600) -> str:
    """The output of a process from start_seqexp, once it has succeeded."""
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-3000:]
    return out


KILL_AFTER_SAVE = '''
import os, signal
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if str(dst).endswith({end!r}):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
'''


def killed_after_saving(tmp_path: Path, end: str) -> dict:
    """An environment in which a process SIGKILLs itself right after it writes a file whose path ends with ``end``
    (checkpoints are renamed into place), e.g. job 2's first ``last.ckpt`` of a sweep: an interrupt at an exact
    point, with no race against the clock."""
    (tmp_path / "sabotage").mkdir()
    (tmp_path / "sabotage" / "sitecustomize.py").write_text(KILL_AFTER_SAVE.format(end=end))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "sabotage"), os.environ.get("PYTHONPATH", "")])}


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def read_wandb_run(path: Path) -> dict:
    """What an offline W&B run holds (``run-<id>.wandb``): name, group, id, history and config keys.

    The file is a LevelDB-style log of protobuf records (32 KiB blocks, 7-byte record headers);
    wandb offers no reader for offline runs, so this is the minimal one.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    raw, pos, block, chunks, records = path.read_bytes(), 7, 32768, b"", []
    while pos + 7 <= len(raw):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", raw[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):
            pos += left
            continue
        chunks += raw[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            records.append(chunks)
            chunks = b""
    run = {"history": set(), "config": set()}
    for data in records:
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(name=record.run.display_name, group=record.run.run_group, id=record.run.run_id)
        elif kind == "history":
            run["history"] |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == "config":
            run["config"] |= {item.key for item in record.config.update}
    return run


def data_module(*overrides: str, chars: bool = False, vocabs=None):
    """The data module ``python -m seqexp *overrides`` would train on, set up: vocabularies built, or ``vocabs``."""
    from seqexp.run.build import build_data, compose_config

    return build_data(compose_config([*overrides, f"model.char={'cnn' if chars else 'none'}"], "."), vocabs)
