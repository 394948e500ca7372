"""Learning-rate schedules the classic recipes use that torch.optim.lr_scheduler lacks."""


class InverseTime:
    """``lr_t = lr / (1 + decay * t)`` (Ma & Hovy 2016), a picklable multiplier for ``LambdaLR``."""

    def __init__(self, decay: float):
        self.decay = decay

    def __call__(self, step: int) -> float:
        return 1.0 / (1.0 + self.decay * step)
