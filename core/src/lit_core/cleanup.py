"""Cleanup after a failed stage: every ``lit_exception`` implementation runs, whatever the others raise.

A pluggy hook call stops at the first implementation that raises. For ``lit_exception`` that
would let one broken ``on_exception`` skip the rest of the cleanup: the loggers' finalize
(metrics never written), the checkpoint callback putting the SIGTERM / SIGUSR1 handlers back,
the strategy's teardown. So here each implementation is called on its own, in pluggy's order
(plain implementations, then the wrappers' code after ``yield``, innermost first: loggers still
finalize last), and a failure is recorded and reported as a note on the original exception,
which is the one that propagates.
"""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING, Any

from .rank_zero import rank_zero_warn

if TYPE_CHECKING:
    from .trainer import Trainer


def run_exception_hooks(trainer: Trainer, module: Any, exception: BaseException) -> None:
    """Call every ``lit_exception`` implementation and the data module's ``on_exception``, each independently.

    A failure of one is added to ``exception`` as a note (with its traceback) and does not stop
    the others; ``KeyboardInterrupt`` and ``SystemExit`` raised by cleanup code still propagate.
    """
    manager = trainer.plugin_manager
    impls = manager.hook.lit_exception.get_hookimpls()
    # pluggy calls plain implementations last-registered first, then runs the wrappers' code after
    # ``yield`` from the innermost (the first wrapper in the list) outwards.
    plain = [impl for impl in reversed(impls) if not (impl.wrapper or impl.hookwrapper)]
    wrappers = [impl for impl in impls if impl.wrapper or impl.hookwrapper]
    kwargs = {"trainer": trainer, "module": module, "exception": exception}
    for impl in plain + wrappers:
        try:
            # One implementation through pluggy's own call path (argument selection, wrappers, LIT_TRACE_HOOKS).
            manager._hookexec("lit_exception", [impl], kwargs, False)
        except Exception as failure:
            _report(exception, _describe(trainer, module, impl.plugin_name), failure)
    datamodule = trainer.datamodule
    if datamodule is not None:
        try:
            datamodule.on_exception(exception)
        except Exception as failure:
            _report(exception, f"{type(datamodule).__name__}.on_exception", failure)


def _describe(trainer: Trainer, module: Any, plugin_name: str) -> str:
    """``"MyCallback.on_exception"`` for a callback's or the module's adapter, else the plugin's name."""
    if plugin_name == "lit.module-adapter":
        return f"{type(module).__name__}.on_exception"
    for callback in trainer.callbacks:
        if plugin_name == f"lit.callback-adapter:{id(callback)}":
            return f"{type(callback).__name__}.on_exception"
    return f"the plugin {plugin_name!r} (lit_exception)"


def _report(exception: BaseException, who: str, failure: Exception) -> None:
    tb = failure.__traceback__
    while tb is not None and tb.tb_next is not None and _is_dispatch(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next  # start at the code that failed, not at lit's and pluggy's dispatch
    detail = "".join(traceback.format_exception(type(failure), failure, tb, chain=False)).rstrip()
    note = (f"While cleaning up after the error above, {who} raised {type(failure).__name__}: {failure}. The rest "
            f"of the cleanup ran, and the error above is the one raised.\n{detail}")
    if hasattr(exception, "add_note"):  # Python 3.11+: shown with the original traceback
        exception.add_note(note)
    else:
        rank_zero_warn(note)


def _is_dispatch(filename: str) -> bool:
    return filename == __file__ or f"{os.sep}pluggy{os.sep}" in filename
