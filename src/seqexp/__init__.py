"""seqexp: RNN, LSTM and GRU experiments on sequence tasks with PyTorch Lightning and Hydra."""

from seqexp.run import resolvers  # noqa: F401  (registers ${corpus:...} before any config is composed)
