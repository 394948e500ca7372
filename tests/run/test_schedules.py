import pickle

import pytest
import torch

from seqexp.run.schedules import InverseTime


def test_inverse_time_decay_with_lambdalr():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.015)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, InverseTime(0.05))
    lrs = []
    for _ in range(3):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.015, 0.015 / 1.05, 0.015 / 1.1])
    assert pickle.loads(pickle.dumps(InverseTime(0.05)))(2) == pytest.approx(1 / 1.1)
