"""ModelPruning: real pruning during training, the lottery ticket reset, permanent weights in checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import lit_core as lit
from lit_callbacks import LambdaCallback, ModelPruning
from lit_core.exceptions import MisconfigurationException


class Net(lit.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer1 = nn.Linear(4, 32)
        self.layer2 = nn.Linear(32, 1)

    def forward(self, x):
        return self.layer2(torch.relu(self.layer1(x)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def sparsity(t: torch.Tensor) -> float:
    return float((t == 0).sum()) / t.numel()


def test_global_pruning_each_epoch_then_permanent(make_trainer, random_loader):
    model = Net()
    pruning = ModelPruning("l1_unstructured", amount=0.5, use_lottery_ticket_hypothesis=False,
                           parameters_to_prune=[(model.layer1, "weight"), (model.layer2, "weight")])
    make_trainer(max_epochs=2, callbacks=[pruning]).fit(model, random_loader())
    total = model.layer1.weight.numel() + model.layer2.weight.numel()
    zeros = int((model.layer1.weight == 0).sum() + (model.layer2.weight == 0).sum())
    assert zeros == round(total * 0.75), "half pruned after epoch 0, half of the rest after epoch 1"
    assert not hasattr(model.layer1, "weight_mask") and isinstance(model.layer1.weight, nn.Parameter), "made permanent at the end"


def test_lottery_ticket_resets_survivors_to_initial_values(make_trainer, random_loader):
    model = Net()
    initial = model.layer1.weight.detach().clone()
    pruning = ModelPruning("random_unstructured", amount=0.3, parameter_names=["weight"], make_pruning_permanent=False)
    make_trainer(max_epochs=1, callbacks=[pruning]).fit(model, random_loader())
    mask = model.layer1.weight_mask.bool()
    assert torch.equal(model.layer1.weight_orig[mask], initial[mask]), "the unpruned weights are back at their setup values"
    assert model.layer1.bias is not None and not hasattr(model.layer1, "bias_mask"), "only the weights"


def test_local_structured_pruning_with_amount_per_epoch(make_trainer, random_loader):
    model = Net()
    pruning = ModelPruning("ln_structured", parameters_to_prune=[(model.layer1, "weight")], use_global_unstructured=False,
                           pruning_dim=0, pruning_norm=2, amount=lambda epoch: 8 if epoch == 1 else 0,
                           use_lottery_ticket_hypothesis=False)
    make_trainer(max_epochs=2, callbacks=[pruning]).fit(model, random_loader())
    zero_rows = int((model.layer1.weight.abs().sum(dim=1) == 0).sum())
    assert zero_rows == 8, "8 whole output rows pruned, in epoch 1 only"


def test_checkpoint_holds_pruned_weights_while_training_keeps_masks(make_trainer, random_loader, tmp_path):
    model = Net()
    seen = {}

    def save(trainer, pl_module):
        trainer.save_checkpoint(tmp_path / "mid.ckpt")
        seen["has_mask"] = hasattr(pl_module.layer1, "weight_mask")

    pruning = ModelPruning("l1_unstructured", amount=0.4, use_lottery_ticket_hypothesis=False)
    make_trainer(max_epochs=1, callbacks=[pruning, LambdaCallback(on_train_epoch_end=save)]).fit(model, random_loader())
    state = torch.load(tmp_path / "mid.ckpt", weights_only=False)["state_dict"]
    assert seen["has_mask"], "the model still trains with its masks"
    assert not any(k.endswith(("_orig", "_mask")) for k in state)
    assert abs(sparsity(state["layer1.weight"]) - 0.4) < 0.1
    fresh = Net()
    fresh.load_state_dict(state)  # a plain model loads it
    assert torch.equal(fresh.layer1.weight, model.layer1.weight)


def test_subclass_can_filter_parameters(make_trainer, random_loader):
    class OnlySecond(ModelPruning):
        def filter_parameters_to_prune(self, parameters_to_prune=()):
            return [(m, n) for m, n in parameters_to_prune if m.out_features == 1]

    model = Net()
    make_trainer(callbacks=[OnlySecond(prune.L1Unstructured, amount=0.5, make_pruning_permanent=False)]).fit(model, random_loader())
    assert hasattr(model.layer2, "weight_mask") and not hasattr(model.layer1, "weight_mask")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pruning_fn": "l1_unstructured", "parameter_names": ["gamma"]}, "parameter_names"),
    ({"pruning_fn": "l3_unstructured"}, "isn't available"),
    ({"pruning_fn": "ln_structured", "use_global_unstructured": False}, "pruning_dim"),
    ({"pruning_fn": "ln_structured", "use_global_unstructured": False, "pruning_dim": 0}, "pruning_norm"),
    ({"pruning_fn": "random_structured", "pruning_dim": 0}, "unstructured"),
    ({"pruning_fn": prune.L1Unstructured, "use_global_unstructured": False}, "use_global_unstructured=True"),
    ({"pruning_fn": prune.L1Unstructured(amount=0.1)}, "not an instance"),
    ({"pruning_fn": "l1_unstructured", "amount": "half"}, "amount"),
    ({"pruning_fn": "l1_unstructured", "verbose": 3}, "verbose"),
])
def test_configuration_errors(kwargs, match):
    with pytest.raises(MisconfigurationException, match=match):
        ModelPruning(**kwargs)


def test_parameters_not_in_the_model(make_trainer, random_loader):
    with pytest.raises(MisconfigurationException, match="don't exist in the model"):
        make_trainer(callbacks=[ModelPruning("l1_unstructured", parameters_to_prune=[(nn.Linear(2, 2), "weight")])]).fit(Net(), random_loader())
