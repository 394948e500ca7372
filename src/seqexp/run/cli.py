"""The command line every entry point shares: ``key=value`` arguments read with Hydra's override grammar (as
``python -m seqexp`` reads them) into typed options, Hydra-style log lines, and one error boundary: a user's
error is one line and exit code 2, an interrupt one line and 130 or 143; anything else is a bug, said so in one
line before its traceback."""

import dataclasses
import logging
import re
import signal
import sys
import threading
import traceback
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override
from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)

from seqexp import interrupts
from seqexp.errors import ConfigError, Interrupted, JobFailed, SeqexpError, first_line
from seqexp.run.schema import check_keys

log = logging.getLogger("seqexp")
PACKAGE = Path(__file__).resolve().parents[1]  # src/seqexp: where a failure is ours


def quiet() -> None:
    """Silence what a new user should not have to read: Lightning's tips and environment banners."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.seed",
                 "pytorch_lightning.accelerators.cuda", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # 2 cores and small in-memory datasets: worker processes cost more than they save here.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Lightning 2.6 calls torch.utils._pytree.LeafSpec(), deprecated in recent torch: not the user's business.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # DDP: our epoch metrics are torchmetrics objects, synced by compute() before they are logged.
    warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")
    # SLURM's client installed (a cluster's login node, a lab's workstation): runs here are not srun's business.
    warnings.filterwarnings("ignore", message=".*The `srun` command is available on your system.*")


BUG = ("this is a bug in seqexp, not a mistake in your input or config: please report it to the seqexp maintainers "
       "(the issue tracker of the repository you installed from) with the command line and the traceback below")


def user_error(error: BaseException) -> SeqexpError | None:
    """The SeqexpError behind ``error`` (Hydra's instantiate wraps them), or None: a bug. Hydra's refusals of a
    config (composition, a missing config file) are the user's; so is a target that fails when Hydra calls it,
    unless the failure was raised in seqexp's own code."""
    causes = []
    cause = error
    while cause is not None:
        if isinstance(cause, SeqexpError):
            return cause
        causes.append(cause)
        cause = cause.__cause__
    for cause in causes:
        if isinstance(cause, ConfigCompositionException | MissingConfigException | OverrideParseException):
            return ConfigError(first_line(cause))
        if isinstance(cause, InstantiationException) and not _raised_in_seqexp(causes[-1]):
            key = re.search(r"full_key: (\S+)", str(cause))
            inner = f": {first_line(causes[-1])}" if causes[-1] is not cause else ""
            return ConfigError(f"{key.group(1) + ': ' if key else ''}{first_line(cause).rstrip(':')}{inner}")
    return None


def _raised_in_seqexp(error: BaseException) -> bool:
    """Whether ``error`` was raised in a frame of the seqexp package (a bug there), rather than in a library or a
    user's target that refused a config value."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


def exit_on_user_error(command: Callable, *args, log: logging.Logger = log, sweep: bool = False,
                       plain: bool = False):
    """Run ``command(*args)``, the one error boundary of every entry point. A SeqexpError becomes one line and exit
    code 2 (in a sweep, a JobFailed, so that the other jobs still run); Ctrl-C or SIGTERM one line and exit code
    130 or 143; any other exception is a bug: one line saying so, then its traceback. ``plain``: the line is
    ``error: ...`` on stderr rather than a log record."""
    handlers = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    main = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
    for signum in handlers if main else ():
        signal.signal(signum, interrupts.received_signal)
    interrupts.guard(True)
    try:
        return command(*args)
    except Interrupted as e:
        _say(str(e), log, plain)
        sys.exit(e.exit_code)
    except BaseException as e:
        signum = interrupts.received()
        if signum is not None:  # a library turned the interrupt into another error (OmegaConf does): still it
            _say(interrupts.message(signum), log, plain)
            sys.exit(128 + signum)
        if not isinstance(e, Exception):
            raise
        cause = user_error(e)
        if cause is None:
            _say(BUG, log, plain)
            raise
        _say(str(cause), log, plain)
        if sweep:
            raise JobFailed(str(cause)) from None
        sys.exit(2)
    finally:
        interrupts.guard(False)
        for signum, handler in handlers.items() if main else ():
            signal.signal(signum, handler)


def _say(message: str, log: logging.Logger, plain: bool) -> None:
    if plain:
        print(f"error: {message}", file=sys.stderr)
    else:
        log.error("%s", message)


def run_cli(command: Callable[[list[str]], Any], argv: list[str] | None = None, plain: bool = False) -> int:
    """Run ``command(arguments)`` as an entry point through ``exit_on_user_error`` and return its exit code: 0, 2
    after one line for a user's error, 130 or 143 after an interrupt. Log lines look like Hydra's, or, ``plain``,
    are bare messages."""
    logging.basicConfig(level=logging.INFO, format="%(message)s" if plain else
                        "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    quiet()
    try:
        exit_on_user_error(command, sys.argv[1:] if argv is None else argv, plain=plain)
    except SystemExit as e:
        return e.code
    return 0


def parse(args: list[str], options: type, positional: str | None = None,
          overrides: bool = False) -> tuple[Any, list[Override]]:
    """``args`` -> (an ``options`` dataclass, checked by the config schema, naming the key of a bad value; the other
    ``key=value`` arguments, when ``overrides`` allows them, as Hydra parsed them: ``.key_or_group``,
    ``.value()``, ``.input_line``). Bare words fill the ``positional`` field (a list); ``a,b`` and ``[a,b]`` are
    lists; ``--name value`` and ``--flag`` still work as ``name=value`` and ``flag=true``."""
    fields = {f.name: f for f in dataclasses.fields(options)}
    pairs, words = [], []
    rest = iter(args)
    for arg in rest:
        if arg.startswith("--"):
            name, eq, value = arg[2:].replace("-", "_").partition("=")
            if not eq:
                flag = name in fields and fields[name].type in (bool, "bool")
                value = "true" if flag else next(rest, "")
            pairs.append(f"{name}={value}")
        elif "=" in arg or positional is None:
            pairs.append(arg)
        else:
            words.append(arg)
    try:
        parsed = OverridesParser.create().parse_overrides(pairs)
    except HydraException as e:
        raise ConfigError(f"cannot read the arguments: {str(e).splitlines()[0]}") from None
    given = {o.key_or_group: _plain(o.value(), fields[o.key_or_group].type) for o in parsed
             if o.key_or_group in fields}
    if words:
        given[positional] = words
    others = [o for o in parsed if o.key_or_group not in fields]
    if others and not overrides:
        raise ConfigError(f"{others[0].key_or_group}: unknown option (expected {', '.join(fields)})")
    check_keys(options, given, "")  # types, choices and ranges, as for configs
    return options(**given), others


def _plain(value: Any, kind: Any) -> Any:
    """A parsed value as plain Python: ``a,b`` (Hydra's sweep syntax) and ``[a,b]`` as lists, and a single value
    as a list of one where the option is a list."""
    if isinstance(value, ChoiceSweep):
        value = list(value.list)
    if isinstance(value, list | tuple):
        return list(value)
    return [value] if typing.get_origin(kind) is list or "list[" in str(kind) else value
