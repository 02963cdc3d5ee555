"""``TQDMProgressBar``: Lightning's tqdm progress bar, as a lit callback.

The bar implements lit's hooks directly (``@lit.hookimpl`` methods): the per-batch hooks take
only ``trainer`` and ``batch_idx``, so the kernel builds no ``outputs`` for them, and a batch that
is not due for a redraw costs one comparison. Metrics (``trainer.progress_bar_metrics``, which
turns tensors into floats) are read only when a bar is redrawn.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import lit_core as lit
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


class _Stage:
    """One bar and when it is next due: ``due`` (a batch count) and ``next_t`` (a clock time)."""

    __slots__ = ("bar", "drawn_n", "drawn_t", "due", "every", "lines", "n", "next_t", "with_metrics")

    def __init__(self, bar: Any, every: int, with_metrics: bool, lines: bool) -> None:
        self.bar = bar
        #: Line mode (a stream that is not a terminal): ``bar.show()`` writes a line.
        self.lines = lines
        self.every = every
        self.due = every
        self.n = 0
        self.next_t = 0.0
        #: Where and when the bar was last drawn: the batch rate that says how many batches to skip.
        self.drawn_n = 0
        self.drawn_t = 0.0
        self.with_metrics = with_metrics

    def restart(self, first: int = 0) -> None:
        self.n = first
        self.due = (first // self.every + 1) * self.every


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
        self._active = False
        self._trainer: lit.Trainer | None = None
        self._train: _Stage | None = None
        self._eval: _Stage | None = None
        self._clock: Callable[[], float] = time.monotonic
        #: The last bar of each kind ("train", "validation", "test", "predict"), kept after it closes.
        self._bars: dict[str, Tqdm] = {}

    # ---- Lightning's public surface ------------------------------------------------------

    @property
    def process_position(self) -> int:
        return self._process_position

    def _bar(self, kind: str) -> Tqdm:
        bar = self._bars.get(kind)
        if bar is None:
            raise TypeError(f"The `{type(self).__name__}` {kind} bar has not been created yet (it opens when that loop starts).")
        return bar

    @property
    def train_progress_bar(self) -> Tqdm:
        """The training bar (a ``tqdm``), kept after the loop ends; ``TypeError`` before it opens."""
        return self._bar("train")

    @train_progress_bar.setter
    def train_progress_bar(self, bar: Tqdm) -> None:
        self._bars["train"] = bar

    @property
    def val_progress_bar(self) -> Tqdm:
        """The validation (or sanity-check) bar, kept after the loop ends."""
        return self._bar("validation")

    @val_progress_bar.setter
    def val_progress_bar(self, bar: Tqdm) -> None:
        self._bars["validation"] = bar

    @property
    def test_progress_bar(self) -> Tqdm:
        """The test bar, kept after the loop ends."""
        return self._bar("test")

    @test_progress_bar.setter
    def test_progress_bar(self, bar: Tqdm) -> None:
        self._bars["test"] = bar

    @property
    def predict_progress_bar(self) -> Tqdm:
        """The predict bar, kept after the loop ends."""
        return self._bar("predict")

    @predict_progress_bar.setter
    def predict_progress_bar(self, bar: Tqdm) -> None:
        self._bars["predict"] = bar

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
        return tqdm_class()(desc="Training", position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, smoothing=0, mininterval=0, miniters=1)

    def init_sanity_tqdm(self) -> Tqdm:
        return tqdm_class()(desc="Sanity Checking", position=2 * self._process_position, leave=False, dynamic_ncols=True,
                            file=self.file, mininterval=0, miniters=1)

    def init_validation_tqdm(self) -> Tqdm:
        nested = self._train is not None
        return tqdm_class()(desc="Validation", position=2 * self._process_position + nested, leave=not nested,
                            dynamic_ncols=True, file=self.file, mininterval=0, miniters=1)

    def init_test_tqdm(self) -> Tqdm:
        return tqdm_class()(desc="Testing", position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, mininterval=0, miniters=1)

    def init_predict_tqdm(self) -> Tqdm:
        return tqdm_class()(desc="Predicting", position=2 * self._process_position, leave=True, dynamic_ncols=True,
                            file=self.file, smoothing=0, mininterval=0, miniters=1)

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Print without breaking the bars (``tqdm.write``; to ``file`` if given, else standard output)."""
        from tqdm import tqdm

        tqdm.write(sep.join(map(str, args)), file=self._file if self._file is not None else sys.stdout, **kwargs)

    # ---- drawing ---------------------------------------------------------------------------

    def _open(self, kind: str, desc: str, total: float, with_metrics: bool) -> _Stage:
        terminal = self.is_terminal
        if terminal:
            bar = getattr(self, f"init_{kind}_tqdm")()
            bar.reset(total=None if math.isinf(total) else int(total))
            bar.set_description(desc)
            every = self._refresh_rate
        else:
            bar = _line_bar_class()(self.file, desc, total)
            if kind in ("validation", "sanity"):
                every = 1 << 62  # one line, at the end
            elif math.isinf(total):
                every = max(self._refresh_rate, LINES_EVERY_UNSIZED)
            else:
                every = max(self._refresh_rate, math.ceil(total / LINES_PER_EPOCH))
        self._bars[kind if kind != "sanity" else "validation"] = bar
        return _Stage(bar, every, with_metrics, lines=not terminal)

    def _draw(self, stage: _Stage, final: bool = False) -> None:
        """Redraw ``stage``'s bar at ``stage.n``, with the metrics when it shows them."""
        bar = stage.bar
        postfix = None
        if stage.with_metrics and self._trainer is not None:
            postfix = self.get_metrics(self._trainer, self._trainer.lightning_module)
        if postfix is not None:
            bar.set_postfix(postfix, refresh=False)
        bar.n = stage.n
        if stage.lines:
            bar.show()
            return
        bar.refresh()  # bar.n is kept current per batch (as Lightning's bar does); draw it
        stage.drawn_n, stage.drawn_t = stage.n, self._clock()
        stage.next_t = stage.drawn_t + self.min_interval

    def _step(self, stage: _Stage) -> None:
        """A batch made ``stage`` due (every ``refresh_rate`` batches): redraw unless too soon.

        Too soon, the batches expected before ``min_interval`` has passed (at the rate since the
        last draw) are skipped without reading the clock, so most batches cost one comparison.
        """
        every = stage.every
        stage.due = (stage.n // every + 1) * every
        if stage.lines:
            self._draw(stage)
            return
        now = self._clock()
        if now >= stage.next_t:
            self._draw(stage)
            return
        done, elapsed = stage.n - stage.drawn_n, now - stage.drawn_t
        if done > 0 and elapsed > 0:
            skip = int((stage.next_t - now) * done / elapsed * 0.9)  # arrive a little early, never late
            if skip > every:
                stage.due = ((stage.n + skip) // every) * every

    def _close(self, stage: _Stage | None) -> None:
        if stage is not None:
            stage.bar.close()

    # ---- lit hooks ---------------------------------------------------------------------------

    @lit.hookimpl
    def lit_setup(self, trainer: lit.Trainer) -> None:
        self._trainer = trainer
        self._active = self.is_enabled and trainer.is_global_zero and not disabled_by_environment()

    @lit.hookimpl
    def lit_sanity_check_start(self, trainer: lit.Trainer) -> None:
        if self._active:
            most = trainer.num_sanity_val_steps if trainer.num_sanity_val_steps != -1 else math.inf
            total = self.total_batches(trainer.val_dataloaders, trainer.limit_val_batches, most)
            self._eval = self._open("sanity", "Sanity Checking", total, with_metrics=False)

    @lit.hookimpl
    def lit_sanity_check_end(self) -> None:
        self._close(self._eval)
        self._eval = None

    @lit.hookimpl
    def lit_train_epoch_start(self, trainer: lit.Trainer) -> None:
        if not self._active:
            return
        total = trainer.num_training_batches
        desc = f"Epoch {trainer.current_epoch}"
        stage = self._train
        if stage is None or stage.lines or (self._leave and stage.bar.n):
            self._close(stage)  # leave=True: the finished epoch's bar stays, a new one opens below
            self._train = self._open("train", desc, total, with_metrics=True)
        else:
            stage.bar.reset(total=None if math.isinf(total) else int(total))
            stage.bar.set_description(desc)
            stage.next_t = 0.0
            stage.restart()

    @lit.hookimpl
    def lit_train_batch_end(self, batch_idx: int) -> None:
        stage = self._train
        if stage is not None:
            stage.bar.n = stage.n = n = batch_idx + 1
            if n >= stage.due:
                self._step(stage)

    @lit.hookimpl
    def lit_train_epoch_end(self) -> None:
        if self._train is not None:
            self._draw(self._train, final=True)

    @lit.hookimpl
    def lit_train_end(self) -> None:
        self._close(self._train)
        self._train = None

    def _eval_start(self, trainer: lit.Trainer, kind: str, desc: str, loaders: list[Any], limit: float) -> None:
        if self._active and not trainer.sanity_checking:
            self._close(self._eval)
            self._eval = self._open(kind, desc, self.total_batches(loaders, limit), with_metrics=False)

    def _eval_batch(self) -> None:
        stage = self._eval
        if stage is not None:
            stage.bar.n = stage.n = n = stage.n + 1
            if n >= stage.due:
                self._step(stage)

    def _eval_end(self) -> None:
        stage, self._eval = self._eval, None
        if stage is not None:
            if stage.lines or stage.bar.leave:
                self._draw(stage, final=True)
            else:
                stage.bar.n = stage.n  # closed without a last draw: its count is still the final one
            self._close(stage)
        if self._train is not None:  # the epoch's validation metrics, on the training bar
            self._draw(self._train)

    @lit.hookimpl
    def lit_validation_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "validation", "Validation", trainer.val_dataloaders, trainer.limit_val_batches)

    @lit.hookimpl
    def lit_validation_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_validation_end(self, trainer: lit.Trainer) -> None:
        if not trainer.sanity_checking:  # the sanity check's bar closes in lit_sanity_check_end
            self._eval_end()

    @lit.hookimpl
    def lit_test_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "test", "Testing", trainer.test_dataloaders, trainer.limit_test_batches)

    @lit.hookimpl
    def lit_test_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_test_end(self) -> None:
        self._eval_end()

    @lit.hookimpl
    def lit_predict_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "predict", "Predicting", trainer.predict_dataloaders, trainer.limit_predict_batches)

    @lit.hookimpl
    def lit_predict_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_predict_end(self) -> None:
        self._eval_end()

    @lit.hookimpl
    def lit_exception(self) -> None:
        self.lit_teardown()

    @lit.hookimpl
    def lit_teardown(self) -> None:
        self._close(self._eval)
        self._close(self._train)
        self._eval = self._train = None
        self._active = False

    def print_results(self, stage: str, results: list[dict[str, float]]) -> None:
        """``validate()`` / ``test()`` results: a table written with ``tqdm.write`` (bars stay intact)."""
        self.print(self.format_results(stage, results))

    def state_dict(self) -> dict[str, Any]:
        return {}

    def __getstate__(self) -> dict[str, Any]:  # tqdm bars and the trainer are not picklable: a copy starts afresh
        state = dict(self.__dict__)
        state.update(_trainer=None, _train=None, _eval=None, _active=False, _bars={})
        return state
