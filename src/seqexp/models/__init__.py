"""Model parts every head builds from: the encoder, hand-written cells, character features, the CRF, the
decoder and the decoding loops. They import torch, ``seqexp.errors`` and ``seqexp.constraints`` only, never tasks,
data or run."""
