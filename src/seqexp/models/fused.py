"""torch.nn's fused RNNs, runnable under CPU bf16 autocast on every CPU.

Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (``trainer.precision=bf16-mixed`` on the CPU) torch hands
an RNN to oneDNN, which stops with "could not create a primitive descriptor for the LSTM forward propagation
primitive" on a CPU without AVX-512 BF16 (measured on an AVX2 EPYC). There these classes run torch's own kernel
instead: the same parameters, the same numbers, no other change.
"""

import torch
from torch import nn

_ONEDNN_BF16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _needs_native() -> bool:
    return (not _ONEDNN_BF16 and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)


class _RunsEverywhere(nn.RNNBase):
    def forward(self, *args, **kwargs):
        if not _needs_native():
            return super().forward(*args, **kwargs)
        # oneDNN off for this call only; None leaves its other flags (and their warnings) alone
        with torch.backends.mkldnn.flags(enabled=False, deterministic=None, allow_tf32=None, fp32_precision=None):
            return super().forward(*args, **kwargs)


class RNN(_RunsEverywhere, nn.RNN):
    pass


class GRU(_RunsEverywhere, nn.GRU):
    pass


class LSTM(_RunsEverywhere, nn.LSTM):
    pass


FUSED_CLASSES: dict[str, type[nn.RNNBase]] = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
