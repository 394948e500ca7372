"""Ctrl-C and SIGTERM at any moment (seqexp.interrupts): through the real commands, interrupted at each phase (the
process signals itself on entering it) and after real delays; each time exit 130 / 143, one last line saying what was
interrupted, no traceback, never the "bug" line; and the same command afterwards runs to the end."""

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import QUICK, read_metrics, run_module, run_seqexp

pytestmark = pytest.mark.slow  # each case starts Python and seqexp a few times

TINY = ["trainer.max_epochs=1", "+trainer.limit_train_batches=5", "+trainer.limit_val_batches=3",
        "+trainer.limit_test_batches=3", "model.hidden_size=16"]
TRAIN_PHASES = {  # phase: what the line says is kept
    "starting": "nothing was written",
    "reading the config": "nothing was written",
    "reading the data": "nothing was written",
    "building the data cache": "nothing was written: the unfinished entry is removed",
    "building the model": "nothing was written",
    "training": "the last checkpoint saved stays; rerun the same command to resume from it",
    "testing the best checkpoint": "training had finished; rerun the same command to test the run",
    "drawing the run page": "training had finished; rerun the same command to test the run",
    "writing metrics.json": "training had finished; rerun the same command to test the run",
}
CODES = {"INT": 130, "TERM": 143}


def _interrupted(proc: subprocess.CompletedProcess, phase: str, kept: str, sig: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == CODES[sig], out[-3000:]
    said = f"interrupted (SIG{sig}) while {phase}; {kept}"
    lasts = [stream.strip().splitlines()[-1] for stream in (proc.stdout, proc.stderr) if stream.strip()]
    assert any(last.endswith(said) for last in lasts) and out.count(said) == 1, out[-3000:]  # the log's last line
    assert "Traceback" not in out and "bug in seqexp" not in out


def _hook(phase: str, sig: str) -> dict:
    return {"SEQEXP_INTERRUPT_AT": phase, "SEQEXP_INTERRUPT_SIGNAL": sig}


@pytest.mark.parametrize(("phase", "sig"), [(p, ("INT", "TERM")[i % 2]) for i, p in enumerate(TRAIN_PHASES)])
def test_a_run_interrupted_at_any_phase_says_so_and_the_rerun_finishes(tmp_path, monkeypatch, phase, sig):
    monkeypatch.setenv("SEQEXP_CACHE_DIR", str(tmp_path / "cache"))  # its own: the cache build phase happens
    run = tmp_path / "run"
    with monkeypatch.context() as hooked:
        for key, value in _hook(phase, sig).items():
            hooked.setenv(key, value)
        _interrupted(run_seqexp(run, *TINY), phase, TRAIN_PHASES[phase], sig)
    assert not (run / "metrics.json").exists()
    entries = list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else []
    assert not [e for e in entries if e.name.startswith(".") and e.is_dir()]  # no unfinished build left
    again = run_seqexp(run, *TINY)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "test/acc" in read_metrics(run)["metrics"]


@pytest.fixture(scope="module")
def checkpoint(trained):
    run = trained("classify")
    return run / read_metrics(run)["best_checkpoint"]


@pytest.mark.parametrize(("command", "phases"), [
    ("seqexp.evaluate", ["starting", "loading the checkpoint", "reading the data", "scoring test"]),
    ("seqexp.predict", ["starting", "loading the checkpoint", "predicting"]),
])
def test_evaluate_and_predict_interrupted_at_any_phase(checkpoint, command, phases):
    for i, phase in enumerate(phases):  # Ctrl-C and SIGTERM, by turns
        sig = ("INT", "TERM")[i % 2]
        proc = run_module(command, f"ckpt={checkpoint}", stdin="What is the capital of France ?\n",
                          env=_hook(phase, sig))
        _interrupted(proc, phase, "nothing was written" if phase != "predicting" else
                     "nothing was written (the output is written at the end, whole)", sig)
    again = run_module(command, f"ckpt={checkpoint}", stdin="What is the capital of France ?\n")
    assert again.returncode == 0, again.stderr[-3000:]


def test_ctrl_c_a_few_seconds_in_is_one_line_whatever_the_moment(tmp_path):
    """The issue's probe: SIGINT at a spread of delays into a long run, from the imports to training."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for delay in (0.2, 1.0, 2.5, 4.0, 6.0, 9.0, 13.0):
        run = tmp_path / f"run{delay}"
        args = [sys.executable, "-m", "seqexp", f"hydra.run.dir={run}", "trainer.max_epochs=400", *QUICK]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=tmp_path)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 130, f"{delay} s: {out[-3000:]}"
        assert out.count("interrupted (SIGINT)") == 1, out[-3000:]
        assert "Traceback" not in out and "bug in seqexp" not in out, out[-3000:]
