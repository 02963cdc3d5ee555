"""Run something on global rank zero only (``@lit.rank_zero_only``), and rank-zero messages."""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("lit_core")
# Like Lightning: lit's INFO messages (restored checkpoints, preemption, skipped training) are shown
# on stderr unless the application configured logging itself (a handler on the root logger).
log.setLevel(logging.INFO)
if not logging.getLogger().hasHandlers():
    log.addHandler(logging.StreamHandler())
    log.propagate = False

# Like Lightning, which shows its deprecation warnings by default: Python hides a DeprecationWarning
# unless it is attributed to __main__, and lit's are attributed to lit's modules. Shown once per
# message and place; a -W option or PYTHONWARNINGS the user set decides instead.
if not sys.warnoptions:
    warnings.filterwarnings("default", category=DeprecationWarning, module=r"lit_core(\.|$)")

T = TypeVar("T")


def _rank_from_env() -> int:
    # Launchers set one of these before user code runs; the Trainer sets the real rank later.
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def rank_zero_only(fn: Callable[..., T]) -> Callable[..., T | None]:
    """Decorate ``fn`` so that it runs on global rank zero only (returns ``None`` elsewhere).

    The rank is ``rank_zero_only.rank``: read from the launcher's environment variables at
    import, then set by the Trainer once the strategy knows it.
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> T | None:
        if rank_zero_only.rank == 0:  # type: ignore[attr-defined]
            return fn(*args, **kwargs)
        return None

    return wrapped


rank_zero_only.rank = _rank_from_env()  # type: ignore[attr-defined]


@rank_zero_only
def rank_zero_info(message: str) -> None:
    """Log ``message`` at INFO level on rank zero."""
    log.info(message)


@rank_zero_only
def rank_zero_warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 3) -> None:
    """Warn once, on rank zero."""
    warnings.warn(message, category, stacklevel=stacklevel)


def rank_zero_deprecation(message: str) -> None:
    """A ``DeprecationWarning`` that users see (rank zero only)."""
    rank_zero_warn(message, DeprecationWarning, stacklevel=4)
