"""``TQDMProgressBar``: Lightning's tqdm progress bar, as a lit callback.

``lit_core.progress.ProgressBar`` runs the stages (which bar is open when, its total, when a
batch makes it due, the metrics); this module draws: ``open_bar`` makes a tqdm bar (or a
line-mode one when the stream is not a terminal), ``update_bar`` redraws it, ``close_bar``
closes it, ``reset_bar`` reuses the training bar from one epoch to the next.
"""

from __future__ import annotations

import math
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from lit_core.plugin_api import ProgressBar

if TYPE_CHECKING:
    from tqdm import tqdm as Tqdm

#: In line mode (a stream that is not a terminal), an epoch prints about this many lines.
LINES_PER_EPOCH = 20
#: In line mode, a loader of unknown length prints a line every this many batches (at least).
LINES_EVERY_UNSIZED = 50


def resolve_refresh_rate(refresh_rate: int) -> int:
    """Lightning's rule: on Colab (``COLAB_GPU``) a rate of 1 becomes 20; ``TQDM_MINITERS`` is a lower bound."""
    if os.getenv("COLAB_GPU") and refresh_rate == 1:
        return 20  # redrawing every batch in Colab's output cell can crash it
    if "TQDM_MINITERS" in os.environ:
        return max(int(os.environ["TQDM_MINITERS"]), refresh_rate)
    return refresh_rate


def disabled_by_environment() -> bool:
    """``TQDM_DISABLE=1``: tqdm's own switch (read when the stage starts, not when tqdm was imported)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


def in_notebook() -> bool:
    """Whether this runs in a Jupyter (IPython) kernel, where ``tqdm.auto`` draws widgets."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel depends on IPython
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def tqdm_class() -> type[Tqdm]:
    """``tqdm.auto``'s bar in a notebook, else the terminal one (``tqdm.std``)."""
    if in_notebook():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


class _Null:
    """Where a line-mode bar's own tqdm drawing goes: nowhere (the lines are written by ``show``)."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _line_bar_class() -> type:
    """A tqdm bar for a stream that is not a terminal: a plain line now and then, never ``\\r``.

    It is a real ``tqdm`` (``n``, ``total``, ``postfix``, ``format_dict``... for callbacks that
    read the bar), whose own redraws go nowhere; ``show`` writes one line to the stream.
    """
    from tqdm import tqdm

    class LineBar(tqdm):
        monitor_interval = 0  # no tqdm monitor thread for a bar that never redraws itself

        #: ``update_bar`` writes a line (``show``) instead of redrawing in place.
        line_mode = True

        def __init__(self, file: IO[str], desc: str, total: float, **kwargs: Any) -> None:
            self.out = file
            self.shown: tuple[int, str] | None = None
            super().__init__(desc=desc, total=None if math.isinf(total) else int(total), file=_Null(), leave=True,
                             smoothing=0, mininterval=0, miniters=1, dynamic_ncols=False, **kwargs)

        def line(self) -> str:
            meter = self.format_dict
            meter["bar_format"] = ("{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]" if meter["total"] is None else
                                   "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
            meter["ncols"] = None
            return self.format_meter(**meter)

        def show(self) -> None:
            if self.shown == (self.n, self.postfix):
                return  # nothing new since the last line
            self.shown = (self.n, self.postfix)
            self.out.write(self.line() + "\n")
            self.out.flush()

    return LineBar


def _kept_bar(kind: str, doc: str) -> property:
    """Lightning's ``<kind>_progress_bar`` property: the last bar of ``kind`` (settable, as in Lightning)."""

    def get(self: TQDMProgressBar) -> Tqdm:
        bar = self._bars.get(kind)
        if bar is None:
            raise TypeError(f"The `{type(self).__name__}` {kind} bar has not been created yet (it opens when that loop starts).")
        return bar

    def set(self: TQDMProgressBar, bar: Tqdm) -> None:
        self._bars[kind] = bar

    return property(get, set, doc=doc)


class TQDMProgressBar(ProgressBar):
    """Lightning's progress bar: a bar per training epoch (rate, ETA, the ``prog_bar=True``
    metrics and ``v_num``), with sanity-check, validation, test and predict bars.

    Args:
        refresh_rate: redraw every this many batches (0 turns the bar off). On a terminal a
            redraw also waits ``min_interval`` seconds since the last one. As in Lightning, 1
            becomes 20 on Colab (``COLAB_GPU``) and ``TQDM_MINITERS`` sets a minimum.
        process_position: which line pair the bars use (several trainers at once).
        leave: keep each finished epoch's bar on screen.
        file: the stream to write to (``sys.stdout`` at the time a bar opens, as Lightning).
        min_interval: seconds between two redraws on a terminal (default 0.1, tqdm's own);
            ignored in line mode.

    When ``file`` is not a terminal and not a notebook (CI logs, pipes), bars are plain lines:
    about 20 per epoch (every 5 % of it, at least ``refresh_rate`` batches apart; every 50
    batches when the epoch's length is unknown), one per validation run, one at each end. The
    bars are ``tqdm`` objects in both modes (``train_progress_bar``, ``val_progress_bar``,
    ``test_progress_bar``, ``predict_progress_bar``, kept after their loop ends), and their
    ``n`` is current at every batch, so callbacks can read them as in Lightning.

    Override ``get_metrics(trainer, pl_module)`` to change what the bar shows.
    """

    name = "tqdm"

    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False, *,
                 file: IO[str] | None = None, min_interval: float = 0.1) -> None:
        if not isinstance(refresh_rate, int) or refresh_rate < 0:
            raise ValueError(f"TQDMProgressBar(refresh_rate={refresh_rate!r}): give an int >= 0.")
        self._refresh_rate = resolve_refresh_rate(refresh_rate)
        self._process_position = process_position
        self._leave = leave
        self._file = file
        self.min_interval = min_interval
        self._enabled = True
        #: The last bar of each kind ("train", "validation", "test", "predict"), kept after it closes.
        self._bars: dict[str, Tqdm] = {}

    # ---- Lightning's public surface ------------------------------------------------------

    @property
    def process_position(self) -> int:
        return self._process_position

    train_progress_bar = _kept_bar("train", "The training bar (a ``tqdm``), kept after the loop ends; ``TypeError`` before it opens.")
    val_progress_bar = _kept_bar("validation", "The validation (or sanity-check) bar, kept after the loop ends.")
    test_progress_bar = _kept_bar("test", "The test bar, kept after the loop ends.")
    predict_progress_bar = _kept_bar("predict", "The predict bar, kept after the loop ends.")

    @property
    def file(self) -> IO[str]:
        """Where the bars go: ``file`` if given, else standard output (as Lightning's bar)."""
        return self._file if self._file is not None else sys.stdout

    @property
    def is_terminal(self) -> bool:
        """Whether bars are drawn with tqdm (a terminal or a notebook), not as plain lines."""
        if in_notebook():
            return True
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def init_train_tqdm(self) -> Tqdm:
        return tqdm_class()(desc=self.train_description, position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, smoothing=0, mininterval=0, miniters=1)

    def init_sanity_tqdm(self) -> Tqdm:
        return tqdm_class()(desc=self.sanity_check_description, position=2 * self._process_position, leave=False, dynamic_ncols=True,
                            file=self.file, mininterval=0, miniters=1)

    def init_validation_tqdm(self) -> Tqdm:
        nested = self._train is not None  # during fit: under the training bar, cleared when done
        return tqdm_class()(desc=self.validation_description, position=2 * self._process_position + nested, leave=not nested,
                            dynamic_ncols=True, file=self.file, mininterval=0, miniters=1)

    def init_test_tqdm(self) -> Tqdm:
        return tqdm_class()(desc=self.test_description, position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, mininterval=0, miniters=1)

    def init_predict_tqdm(self) -> Tqdm:
        return tqdm_class()(desc=self.predict_description, position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, smoothing=0, mininterval=0, miniters=1)

    # ---- drawing (the primitives lit_core.progress.ProgressBar calls) ---------------------------

    def open_bar(self, kind: str, description: str, total: float) -> Tqdm | None:
        """A bar from ``init_<kind>_tqdm()`` on a terminal (or in a notebook), else a line-mode bar."""
        if disabled_by_environment():
            return None
        if self.is_terminal:
            bar = getattr(self, f"init_{kind}_tqdm")()
            bar.reset(total=None if math.isinf(total) else int(total))
            if kind == "train":  # "Epoch N"; the other bars keep what init_<kind>_tqdm() described
                bar.set_description(description)
        else:
            bar = _line_bar_class()(self.file, description, total)
        self._bars[kind if kind != "sanity" else "validation"] = bar
        return bar

    def schedule(self, bar: Tqdm, kind: str, total: float) -> tuple[int, float]:
        """On a terminal: every ``refresh_rate`` batches, ``min_interval`` apart. In line mode, no
        clock: a line every 5 % of an epoch (at least ``refresh_rate`` batches apart), one at the end
        of a validation run."""
        if not getattr(bar, "line_mode", False):
            return self._refresh_rate, self.min_interval
        if kind in ("validation", "sanity"):
            return 1 << 62, 0.0  # one line, at the end
        if math.isinf(total):
            return max(self._refresh_rate, LINES_EVERY_UNSIZED), 0.0
        return max(self._refresh_rate, math.ceil(total / LINES_PER_EPOCH)), 0.0

    def update_bar(self, bar: Tqdm, metrics: dict[str, Any] | None) -> None:
        if metrics is not None:
            bar.set_postfix(metrics, refresh=False)
        if getattr(bar, "line_mode", False):
            bar.show()
        else:
            bar.refresh()  # bar.n is kept current per batch (as Lightning's bar does); draw it

    def close_bar(self, bar: Tqdm, kind: str) -> None:
        if getattr(bar, "line_mode", False) and kind not in ("train", "sanity"):
            bar.show()  # an evaluation run's one line (the training bar printed its last at the epoch's end)
        bar.close()

    def reset_bar(self, bar: Tqdm, description: str, total: float) -> bool:
        """On a terminal the epoch's bar is redrawn in place; with ``leave=True`` (or in line mode)
        the finished epoch's bar stays and a new one opens below."""
        if getattr(bar, "line_mode", False) or (self._leave and bar.n):
            return False
        bar.reset(total=None if math.isinf(total) else int(total))
        bar.set_description(description)
        return True

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print without breaking the bars (``tqdm.write``; to ``file`` if given, else standard output)."""
        from tqdm import tqdm

        tqdm.write(sep.join(map(str, args)), file=self._file if self._file is not None else sys.stdout, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def __getstate__(self) -> dict[str, Any]:  # tqdm bars are not picklable: a copy starts afresh
        return {**super().__getstate__(), "_bars": {}}
