"""User-facing errors: each carries a one-line message naming the config key or file:line at fault."""

from hydra.errors import CompactHydraException


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type when it has none): a library's error, quoted in ours."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


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


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM: one line saying what was saved, and exit code 128 + the signal's number (130,
    143). A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` swallows it."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class JobFailed(CompactHydraException):
    """One job of a multirun failed on a user error: Hydra runs the other jobs, then prints the failed one's
    overrides and this one-line message (no traceback) and exits non-zero."""
