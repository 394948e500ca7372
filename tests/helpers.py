"""Helpers for tests that run the real command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

# Tests that train: no progress bar, so subprocess output stays readable.
QUICK = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


def run_seqexp(run_dir: Path, *overrides: str, timeout: int = 600, script: bool = False,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real command line (``python -m seqexp`` or the ``seqexp`` console script) into ``run_dir``."""
    command = [str(Path(sys.executable).parent / "seqexp")] if script else [sys.executable, "-m", "seqexp"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*command, f"hydra.run.dir={run_dir}", *QUICK, *overrides], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd or run_dir.parent)


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())
