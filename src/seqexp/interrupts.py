"""Ctrl-C (SIGINT) and SIGTERM from a command's first line to its last: one line saying what was interrupted and
what is kept, exit code 130 or 143, never a traceback. Standard library only, so ``seqexp/__init__.py`` installs it
before any heavy import (Lightning, Hydra, Rich take seconds, and people press Ctrl-C in those first seconds).

A command's code announces each phase (``enter``). Outside the error boundary (``seqexp.run.cli``: imports,
Hydra's composition, between sweep jobs) nothing is being written, so the process ends at once. Inside it the
signal becomes ``seqexp.errors.Interrupted``, so ``finally`` blocks run (a cache build removes its unfinished entry);
a library that turns it into another exception (OmegaConf does) cannot hide it, as the boundary asks ``received``.
Training stops at the end of a step instead (``seqexp.run.callbacks.Interrupt``)."""

import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)
TEST_HOOK = "SEQEXP_INTERRUPT_AT"
"""Tests: the phase at which this process signals itself (``SEQEXP_INTERRUPT_SIGNAL``: INT or TERM)."""

_state: dict = {"phase": "starting", "kept": "nothing was written", "guarded": False, "received": None}


def is_command() -> bool:
    """Whether this process runs one of seqexp's commands (``python -m seqexp[.x]``, the ``seqexp`` script) rather
    than a program that imports seqexp (pytest, a notebook), whose own signal handling stays."""
    argv = getattr(sys, "orig_argv", sys.argv)
    if "-m" in argv[:-1]:
        module = argv[argv.index("-m") + 1]
        return module == "seqexp" or module.startswith("seqexp.")
    return os.path.basename(sys.argv[0]) == "seqexp"


def install() -> None:
    """Take over SIGINT and SIGTERM (the main thread only may)."""
    for signum in SIGNALS:
        signal.signal(signum, received_signal)


def enter(phase: str, kept: str = "nothing was written") -> None:
    """The command is now ``phase`` (``building the model``); an interrupt meanwhile keeps ``kept``."""
    _state.update(phase=phase, kept=kept)
    if os.environ.get(TEST_HOOK) == phase:
        os.kill(os.getpid(), getattr(signal, f"SIG{os.environ.get('SEQEXP_INTERRUPT_SIGNAL', 'INT')}"))


def guard(on: bool) -> None:
    """Inside the error boundary (``on``: a command starts, with no interrupt yet) an interrupt raises; outside, it
    ends the process at once."""
    _state["guarded"] = on
    if on:
        _state["received"] = None


def received() -> int | None:
    """The signal that interrupted this command, if one did."""
    return _state["received"]


def message(signum: int) -> str:
    return f"interrupted ({signal.Signals(signum).name}) while {_state['phase']}; {_state['kept']}"


def received_signal(signum: int, frame) -> None:
    first = _state["received"] is None
    _state["received"] = _state["received"] or signum
    if not _state["guarded"] or not first:  # nothing to clean up, or a second Ctrl-C: stop now
        sys.stderr.write(f"{message(signum)}\n")
        sys.stderr.flush()
        os._exit(128 + signum)
    from seqexp.errors import Interrupted  # imported by then: the boundary imports it

    raise Interrupted(message(signum), signum)
