"""ModelSummary: Lightning's table (``lit_core.utilities.model_summary``, from lit-callbacks) and the callback that prints it at fit start."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from torch import nn

import lit_core as lit
from lit_callbacks import ModelSummary, summary_table
from lit_core import lightning_names, namespace
from lit_core.utilities.model_summary import ModelSummary as Summary
from lit_core.utilities.model_summary import get_human_readable_count, summarize


class Deep(lit.LightningModule):
    def __init__(self, example=True):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Sequential(nn.Linear(16, 8)))
        self.head = nn.Linear(8, 1)
        self.head.weight.requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(2))  # not in any layer: "other params"
        if example:
            self.example_input_array = torch.zeros(3, 4)

    def forward(self, x):
        return self.head(self.encoder(x))

    def training_step(self, batch, batch_idx):
        return self(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_table_columns_sizes_and_totals():
    summary = Summary(Deep(), max_depth=2)
    assert summary.layer_names == ["encoder", "encoder.0", "encoder.1", "encoder.2", "head"]
    assert summary.layer_types == ["Sequential", "Linear", "ReLU", "Sequential", "Linear"]
    assert summary.param_nums == [80 + 136, 80, 0, 136, 9]
    assert summary.in_sizes[0] == [3, 4] and summary.out_sizes[-1] == [3, 1]
    assert summary.total_parameters == 80 + 136 + 9 + 2
    assert summary.trainable_parameters == summary.total_parameters - 8
    assert summary.total_flops == 2 * 3 * (4 * 16 + 16 * 8 + 8 * 1), "matmul FLOPs of the example forward pass"
    text = str(summary)
    assert text.splitlines()[0].split("|")[1:] == [" Name      ", " Type       ", " Params ", " Mode  ", " FLOPs ", " In sizes ", " Out sizes"]
    assert "4 | head      | Linear     | 9      | train | 48    | [3, 8]   | [3, 1]" in text
    assert "other params" not in text, "as in Lightning: nested rows double count, so no leftover row below depth 1"
    assert "8         Non-trainable params" in text and "227       Total params" in text
    assert "6         Modules in train mode" in text and "1.2 K     Total Flops" in text
    top = str(Summary(Deep(), max_depth=1))
    assert "  | other params | n/a        | 2      | n/a   | n/a   | n/a      | n/a" in top, "the parameter outside any layer"


def test_depths_and_eval_mode():
    model = Deep(example=False)
    model.head.eval()
    assert Summary(model, max_depth=1).layer_names == ["encoder", "head"]
    assert len(Summary(model, max_depth=-1).layer_names) == 6
    assert Summary(model, max_depth=0).layer_names == []
    summary = summarize(model)
    assert summary.training_modes == [True, False]
    assert summary.total_training_modes == {"train": 5, "eval": 1}
    assert "In sizes" not in str(summary), "sizes only with example_input_array"
    assert model.head.training is False and model.encoder.training is True, "modes left as they were"


def test_bad_depth_and_counts():
    with pytest.raises(ValueError, match="max_depth"):
        Summary(Deep(), max_depth=-2)
    assert [get_human_readable_count(n) for n in (0, 999, 1000, 136_000, 2_500_000)] == ["0  ", "999  ", "1.0 K", "136 K", "2.5 M"]


def test_callback_replaces_the_default_summary(make_trainer, capsys, random_loader):
    trainer = make_trainer(enable_model_summary=True, callbacks=[ModelSummary(max_depth=2)], limit_train_batches=1)
    trainer.fit(Deep(), random_loader())
    out = capsys.readouterr().out
    assert out.count("Total params") == 1, "one table, the callback's"
    assert "encoder.2" in out, "at the callback's depth"


def test_callback_prints_even_with_enable_model_summary_false(make_trainer, capsys, random_loader):
    make_trainer(callbacks=[ModelSummary()], limit_train_batches=1).fit(Deep(), random_loader())
    out = capsys.readouterr().out
    assert "0 | encoder      | Sequential | 216" in out and "encoder.0" not in out


def test_max_depth_zero_prints_nothing(make_trainer, capsys, random_loader):
    make_trainer(enable_model_summary=True, callbacks=[ModelSummary(max_depth=0)], limit_train_batches=1).fit(Deep(), random_loader())
    assert "Total params" not in capsys.readouterr().out


def test_default_summary_is_the_kernel_class(make_trainer, capsys, random_loader):
    make_trainer(enable_model_summary=True, limit_train_batches=1).fit(Deep(), random_loader())
    assert str(Summary(Deep(), max_depth=1)) in capsys.readouterr().out


def test_usable_by_name(make_trainer):
    assert any(isinstance(cb, ModelSummary) for cb in make_trainer(callbacks=["model_summary"]).callbacks)


def test_lightnings_path_resolves_lazily_to_lit_callbacks():
    assert Summary is summary_table.ModelSummary and summarize is summary_table.summarize
    script = ("import sys, lit_core, lit_core.utilities.model_summary as m\n"
              "print(sorted(n for n in sys.modules if n.startswith('lit_callbacks')))\n"
              "print(m.get_human_readable_count(1234), m.ModelSummary.__module__)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[]", "1.2 K lit_callbacks.summary_table"], "the namespace imports lit-callbacks only when a name is used"


def test_without_lit_callbacks_the_table_is_an_import_error_naming_it(monkeypatch):
    shown = namespace.claims
    namespace.refresh()
    monkeypatch.setattr(namespace, "claims", lambda group: {
        n: tuple(c for c in cs if c.distribution != "lit-callbacks") for n, cs in shown(group).items()})
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: dist != "lit-callbacks")
    try:
        with pytest.raises(ImportError, match=re.escape("ModelSummary is in lit-callbacks: pip install lit-callbacks")):
            from lit_core.utilities.model_summary import ModelSummary as Missing  # noqa: F401
    finally:
        monkeypatch.undo()
        namespace.refresh()
