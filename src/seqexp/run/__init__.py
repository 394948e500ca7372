"""Run plumbing shared by the entry points: composing configs and building data, model and trainer from them,
checkpoints, resuming, run dirs, callbacks, loggers and the command-line error boundary. May import models,
tasks and data; nothing below imports it."""
