"""``strategy="ddp_fork"`` / ``"ddp_notebook"``: processes forked from the user's, as from a notebook."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from ddp_helpers import clean_env

import lit_core as lit
from lit_ddp import DDPForkStrategy, DDPNotebookStrategy

#: What a notebook cell holds: a model and data defined in ``__main__`` (``python -c``: no script to run
#: again, and nothing that pickles by reference), trained in two forked processes.
NOTEBOOK = textwrap.dedent("""
    import json, sys
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    import lit_core as lit

    torch.set_num_threads(1)

    class Cell(lit.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("world", float(self.trainer.world_size))
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(16, 2, generator=g), torch.randn(16, 1, generator=g))
    model = Cell()
    before = model.layer.weight.detach().clone()
    trainer = lit.Trainer(strategy=sys.argv[1], accelerator="cpu", devices=2, max_epochs=2, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(data, batch_size=4))
    print(json.dumps({"strategy": type(trainer.strategy).__name__, "global_step": trainer.global_step,
                      "changed": not torch.equal(before, model.layer.weight)}))
""")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls"), [("ddp_fork", "DDPForkStrategy"), ("ddp_notebook", "DDPNotebookStrategy")])
def test_a_model_defined_in_main_trains_in_forked_processes(tmp_path, name, cls):
    result = subprocess.run([sys.executable, "-c", NOTEBOOK, name], cwd=tmp_path, env=clean_env(), capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    report = result.stdout.strip().splitlines()[-1]
    # 16 samples, 2 processes, batch 4: 2 steps an epoch; rank zero's weights come back to this process.
    assert report == f'{{"strategy": "{cls}", "global_step": 4, "changed": true}}'


def test_names_and_start_method():
    for name, cls in (("ddp_fork", DDPForkStrategy), ("ddp_notebook", DDPNotebookStrategy)):
        trainer = lit.Trainer(strategy=name, accelerator="cpu", devices=2, logger=False)
        assert type(trainer.strategy) is cls and trainer.strategy.start_method == "fork"


def test_forking_after_cuda_was_initialised_is_refused(monkeypatch):
    trainer = lit.Trainer(strategy="ddp_notebook", accelerator="cpu", devices=2, logger=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(RuntimeError, match=r"strategy='ddp_notebook' forks the processes, and CUDA is already initialised.*"
                       r"restart the Python process \(the Jupyter kernel\), or use strategy='ddp_spawn'"):
        trainer.strategy.launch(lambda: None)


def test_unavailable_where_fork_is_not(monkeypatch):
    monkeypatch.setattr(torch.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert "cannot fork" in DDPForkStrategy.unavailable_reason()
