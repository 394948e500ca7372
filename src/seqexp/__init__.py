"""seqexp: RNN, LSTM and GRU experiments on sequence tasks with PyTorch Lightning and Hydra."""

from seqexp import interrupts

if interrupts.is_command():  # first of all: an interrupt while the command imports the rest is one line too
    interrupts.install()
    interrupts.enter("starting")
