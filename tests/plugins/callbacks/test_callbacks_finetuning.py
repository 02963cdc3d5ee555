"""lit-callbacks' ``BaseFinetuning`` and ``BackboneFinetuning``: frozen and unfrozen parameters, the
optimizer's parameter groups and their learning rates, exact resume, errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from lit_callbacks import BackboneFinetuning, BaseFinetuning
from lit_core.exceptions import MisconfigurationException


@pytest.fixture
def backbone_model(boring_model: Any) -> Any:
    """A model with a ``backbone`` (Linear + BatchNorm) and a ``head``, SGD with momentum on what trains."""

    class WithBackbone(boring_model):
        def __init__(self) -> None:
            super().__init__()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)
                self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
                self.head = nn.Linear(8, 1)
            self.seen: list[tuple[int, list[float], bool]] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.backbone(x))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=0.1, momentum=0.9)

        def on_train_epoch_end(self) -> None:
            opt = self.trainer.optimizers[0]
            self.seen.append((self.current_epoch, [g["lr"] for g in opt.param_groups], self.backbone[0].weight.requires_grad))

    return WithBackbone


def test_backbone_unfrozen_at_its_epoch_with_growing_lr(make_trainer: Any, backbone_model: Any) -> None:
    model = backbone_model()
    frozen_weight = model.backbone[0].weight.detach().clone()
    cb = BackboneFinetuning(unfreeze_backbone_at_epoch=1, lambda_func=lambda epoch: 2.0)
    make_trainer(max_epochs=5, callbacks=[cb]).fit(model)
    # epoch 1: 0.1 * backbone_initial_ratio_lr; then doubled each epoch until it reaches the model's 0.1 (should_align).
    assert [(e, pytest.approx(lrs), grad) for e, lrs, grad in model.seen] == [
        (0, [0.1], False), (1, [0.1, 0.01], True), (2, [0.1, 0.02], True), (3, [0.1, 0.04], True), (4, [0.1, 0.08], True)]
    assert not torch.equal(model.backbone[0].weight, frozen_weight)
    assert cb.previous_backbone_lr == pytest.approx(0.08)


def test_backbone_stays_frozen_before_its_epoch_and_bn_trains(make_trainer: Any, backbone_model: Any) -> None:
    model = backbone_model()
    frozen_weight = model.backbone[0].weight.detach().clone()
    make_trainer(max_epochs=2, callbacks=[BackboneFinetuning(unfreeze_backbone_at_epoch=5)]).fit(model)
    assert torch.equal(model.backbone[0].weight, frozen_weight)
    assert model.backbone[1].weight.requires_grad  # train_bn=True: BatchNorm trains from the start


def test_initial_lr_and_alignment(make_trainer: Any, backbone_model: Any) -> None:
    model = backbone_model()
    cb = BackboneFinetuning(unfreeze_backbone_at_epoch=0, backbone_initial_lr=0.05, lambda_func=lambda e: 10.0)
    make_trainer(max_epochs=2, callbacks=[cb]).fit(model)
    assert [lrs for _, lrs, _ in model.seen] == [[0.1, 0.05], [0.1, 0.1]]


def test_resume_re_adds_the_param_groups(make_trainer: Any, backbone_model: Any, tmp_root: Any) -> None:
    def callback() -> BackboneFinetuning:
        return BackboneFinetuning(unfreeze_backbone_at_epoch=1, lambda_func=lambda epoch: 1.5)

    straight = backbone_model()
    full = make_trainer(max_epochs=4, callbacks=[callback()])
    full.fit(straight)

    half = make_trainer(max_epochs=2, callbacks=[callback()])
    half.fit(backbone_model())
    half.save_checkpoint(tmp_root / "half.ckpt")
    resumed_model = backbone_model()
    resumed = make_trainer(max_epochs=4, callbacks=[callback()])
    resumed.fit(resumed_model, ckpt_path=tmp_root / "half.ckpt")

    assert resumed_model.seen == straight.seen[2:]
    for a, b in zip(resumed_model.state_dict().values(), straight.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    groups = [[p.shape for p in g["params"]] for g in resumed.optimizers[0].param_groups]
    assert groups == [[p.shape for p in g["params"]] for g in full.optimizers[0].param_groups]


def test_needs_a_backbone(make_trainer: Any, boring_model: Any) -> None:
    with pytest.raises(MisconfigurationException, match=r"nn\.Module `backbone` attribute"):
        make_trainer(callbacks=[BackboneFinetuning()]).fit(boring_model())


def test_custom_finetuning_callback(make_trainer: Any, backbone_model: Any) -> None:
    class HeadFirst(BaseFinetuning):
        def freeze_before_training(self, pl_module: Any) -> None:
            self.freeze(pl_module.backbone, train_bn=False)

        def finetune_function(self, pl_module: Any, epoch: int, optimizer: Any) -> None:
            if epoch == 1:
                self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, train_bn=False)

    model = backbone_model()
    cb = HeadFirst()
    make_trainer(max_epochs=2, callbacks=[cb]).fit(model)
    # lr not given: the first group's divided by initial_denom_lr; BatchNorm unfrozen but left out of the group.
    assert [lrs for _, lrs, _ in model.seen] == [[0.1], [0.1, pytest.approx(0.01)]]
    assert len(cb.state_dict()["internal_optimizer_metadata"][0][1]["params"]) == 2
    assert cb.state_dict()["internal_optimizer_metadata"][0][1]["params"] == ["backbone.0.weight", "backbone.0.bias"]


def test_helpers() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.BatchNorm1d(2), nn.Linear(2, 1)))
    assert [type(m) for m in BaseFinetuning.flatten_modules(net)] == [nn.Linear, nn.BatchNorm1d, nn.Linear]
    BaseFinetuning.freeze(net)
    assert [p.requires_grad for p in net.parameters()] == [False, False, True, True, False, False]
    assert len(list(BaseFinetuning.filter_params(net, requires_grad=False))) == 4
    BaseFinetuning.make_trainable(net)
    assert all(p.requires_grad for p in net.parameters())
    opt = torch.optim.SGD(net[0].parameters(), lr=1.0)
    with pytest.warns(UserWarning, match="already exist within another group"):
        assert BaseFinetuning.filter_on_optimizer(opt, net.parameters()) == list(net[1].parameters())


def test_base_methods_must_be_overridden(make_trainer: Any, boring_model: Any) -> None:
    with pytest.raises(NotImplementedError, match="freeze_before_training"):
        make_trainer(callbacks=[BaseFinetuning()]).fit(boring_model())
