"""Run plumbing shared by the entry points: composing configs and building data, model and trainer from them,
checkpoints, resuming, run dirs, callbacks, loggers and the command-line error boundary. May import models,
tasks and data. Below it, only the command-line shims data/download.py and data/cache/__main__.py import it (its
parser and error boundary)."""

from seqexp.run import resolvers  # noqa: F401  (${corpus:...} etc.: whatever composes or builds a config imports run)
