"""Ctrl+C during a stage: shut down gracefully, then end the program with status 1 (Lightning 2.6).

A ``KeyboardInterrupt`` escaping ``fit``/``validate``/``test``/``predict`` runs the same shutdown
as any other exception (``trainer.state.status`` becomes ``"interrupted"``, the ``on_exception``
hooks run, loggers finalize with ``"failed"``), while further Ctrl+C presses are ignored so the
shutdown can finish writing. Then, as Lightning 2.6 does, the stage raises ``SystemExit(1)``
rather than the ``KeyboardInterrupt``: a script ends with status 1 and no traceback. Unlike
Lightning, the previous SIGINT handler is put back before ``SystemExit`` is raised, so a caller
that catches it (a notebook, a test) can still be interrupted afterwards.
"""

from __future__ import annotations

import signal
from typing import Any, NoReturn

from .rank_zero import rank_zero_info

#: ``previous`` when SIGINT's handler could not be read or changed (not the main thread).
_UNCHANGED = object()


def begin_shutdown() -> Any:
    """Say that a graceful shutdown starts and ignore SIGINT until it ends; return the previous handler."""
    rank_zero_info("\nDetected KeyboardInterrupt, attempting graceful shutdown ...")
    try:
        return signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # signal handlers can only be set from the main thread
        return _UNCHANGED


def end_shutdown(previous: Any) -> NoReturn:
    """Put SIGINT's handler back and end the program with status 1."""
    if previous is not _UNCHANGED and previous is not None:
        signal.signal(signal.SIGINT, previous)
    raise SystemExit(1)
