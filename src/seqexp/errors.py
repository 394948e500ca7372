"""User-facing errors: each carries a one-line message naming the config key or file:line at fault."""

import logging
import sys
from collections.abc import Callable

from hydra.errors import CompactHydraException


class SeqexpError(Exception):
    """An error in the user's input or config; reported as one line, exit code 2."""


class ConfigError(SeqexpError):
    """A config value is invalid; the message names the key."""


class DataError(SeqexpError):
    """A data file is missing or malformed; the message names file:line."""


class MissingFile(DataError):
    """A data file does not exist; the data module adds which config key named it."""


class Diverged(SeqexpError):
    """The training loss became NaN or inf; the message names the step and the last good checkpoint."""


class JobFailed(CompactHydraException):
    """One job of a multirun failed on a user error: Hydra runs the other jobs, then prints the failed one's
    overrides and this one-line message (no traceback) and exits non-zero."""


def exit_on_user_error(command: Callable, *args, log: logging.Logger, sweep: bool = False):
    """Run ``command(*args)``; a SeqexpError (also one that Hydra's instantiate wrapped) becomes one log line
    and exit code 2 instead of a traceback, or, in a sweep, a JobFailed so that the other jobs still run.
    Other exceptions are bugs and keep their traceback."""
    try:
        return command(*args)
    except Exception as e:
        cause = e
        while cause is not None and not isinstance(cause, SeqexpError):
            cause = cause.__cause__
        if cause is None:
            raise
        log.error("%s", cause)
        if sweep:
            raise JobFailed(str(cause)) from None
        sys.exit(2)
