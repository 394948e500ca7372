"""User-facing errors: each carries a one-line message naming the config key or file:line at fault."""


class SeqexpError(Exception):
    """An error in the user's input or config; reported as one line, exit code 2."""


class ConfigError(SeqexpError):
    """A config value is invalid; the message names the key."""


class DataError(SeqexpError):
    """A data file is missing or malformed; the message names file:line."""


class MissingFile(DataError):
    """A data file does not exist; the data module adds which config key named it."""
