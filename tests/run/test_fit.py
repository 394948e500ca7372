"""One run's set-up: how many threads torch gets, alone and as one of a sweep's parallel jobs."""

import pytest
from hydra.types import RunMode
from omegaconf import OmegaConf

from seqexp.run.fit import threads


def hydra(n_jobs=None, mode=RunMode.MULTIRUN):
    return OmegaConf.create({"mode": mode, "launcher": {} if n_jobs is None else {"n_jobs": n_jobs}})


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})


def test_a_parallel_job_takes_its_share_of_the_cores(four_cores):
    assert threads(None, hydra(mode=RunMode.RUN), 4) == 4  # alone: torch's own count (every core)
    assert threads(None, hydra(mode=RunMode.RUN), 1) == 1  # ... or OMP_NUM_THREADS's
    assert threads(None, hydra(), 4) == 4  # the basic launcher runs one job at a time
    assert [threads(None, hydra(n), 4) for n in (2, 3, 4, 8, -1, -3)] == [2, 1, 1, 1, 1, 2]
    assert threads(None, hydra(2), 1) == 1  # never more than torch would take
    assert threads(3, hydra(2), 4) == 3  # threads= wins
