"""The one error boundary every entry point shares: a user's error is one line and exit code 2, a signal one line
and 128 + its number, anything else a bug, said so in one line before its traceback."""

import logging
import os
import signal
import time

import pytest

from seqexp.errors import ConfigError
from seqexp.run.cli import BUG, run_cli


def test_a_user_error_is_one_line_and_exit_code_2(caplog):
    def bad(args):
        raise ConfigError(f"seed must be an integer, got {args[0]!r}")

    assert run_cli(bad, ["abc"]) == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "seed must be an integer, got 'abc'"]


def test_a_bug_is_announced_before_its_traceback(caplog):
    def broken(args):
        return 1 / 0

    with pytest.raises(ZeroDivisionError):
        run_cli(broken, [])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [BUG]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_at_once_with_one_line_and_the_handlers_come_back(caplog, signum, code):
    before = signal.getsignal(signum)

    def waits(args):
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises during the sleep
        raise AssertionError("not interrupted")

    start = time.time()
    assert run_cli(waits, []) == code and time.time() - start < 4
    assert f"interrupted ({signal.Signals(signum).name})" in caplog.text
    assert signal.getsignal(signum) is before
