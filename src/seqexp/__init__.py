"""seqexp: RNN, LSTM and GRU experiments on sequence tasks with PyTorch Lightning and Hydra."""

from seqexp import interrupts

if interrupts.is_command():  # first of all: an interrupt during the imports below is one line too
    interrupts.install()
    interrupts.enter("starting")

from seqexp.run import resolvers  # noqa: E402, F401  (registers ${corpus:...} before any config is composed)
