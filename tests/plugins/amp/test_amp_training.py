"""Mixed precision with several optimizers, manual optimization, evaluation, skipped steps and resume (CPU)."""

from __future__ import annotations

import functools

import pytest
import torch
from torch.nn import functional as F

import lit_core as lit
from lit_amp import BF16MixedPrecision, FP16MixedPrecision, FP16TruePrecision
from lit_core.exceptions import MisconfigurationException

bf16_autocast = functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)
fp16_autocast = functools.partial(torch.autocast, "cpu", dtype=torch.float16)


def cpu_scaler(**kwargs) -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", **{"init_scale": 2.0**10, **kwargs})


@pytest.mark.parametrize(("value", "name", "cls"), [
    (16, "16-mixed", FP16MixedPrecision), ("16", "16-mixed", FP16MixedPrecision), ("bf16", "bf16-mixed", BF16MixedPrecision),
    (32, "32-true", None), ("32", "32-true", None), (64, "64-true", None), ("64", "64-true", None),
    ("16-true", "16-true", FP16TruePrecision),
])
def test_aliases_follow_lightning(value, name, cls):
    if name == "16-mixed":  # by name it needs CUDA: on the cpu accelerator its error shows the mapping
        with pytest.raises(MisconfigurationException, match="precision='16-mixed' needs a CUDA GPU"):
            lit.Trainer(precision=value, accelerator="cpu", logger=False)
        return
    trainer = lit.Trainer(precision=value, accelerator="cpu", logger=False, enable_progress_bar=False, enable_checkpointing=False)
    assert trainer.precision == name
    if cls is not None:
        assert type(trainer.precision_plugin) is cls


class TwoOptimizers(lit.LightningModule):
    """Lightning 1.x's several-optimizer form: each optimizer trains one layer, with its own closure."""

    def __init__(self, make_net) -> None:
        super().__init__()
        self.net = make_net()
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx, optimizer_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        return [torch.optim.SGD(self.net[0].parameters(), lr=0.3, momentum=0.9), torch.optim.SGD(self.net[2].parameters(), lr=0.1)]


def two_optimizer_reference(kit, forward, clip, scaler=None):
    net = kit.make_net()
    optimizers = [torch.optim.SGD(net[0].parameters(), lr=0.3, momentum=0.9), torch.optim.SGD(net[2].parameters(), lr=0.1)]
    losses, stepped = [], False
    for _ in range(2):
        for x, y in kit.make_loader():
            for optimizer in optimizers:
                own = {id(p) for group in optimizer.param_groups for p in group["params"]}
                for p in net.parameters():
                    p.requires_grad = id(p) in own
                if scaler is not None and stepped:
                    scaler.update()  # once the other optimizer stepped, before this loss is scaled
                with forward():
                    loss = F.cross_entropy(net(x), y)
                losses.append(loss.item())
                (scaler.scale(loss) if scaler is not None else loss).backward()
                if scaler is not None:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.grad is not None], clip)
                if scaler is not None:
                    scaler.step(optimizer)
                else:
                    optimizer.step()
                stepped = True
                optimizer.zero_grad()
                for p in net.parameters():
                    p.requires_grad = True
    return losses


def test_two_optimizers_bf16_mixed_with_clipping(amp_kit, tmp_path):
    module = TwoOptimizers(amp_kit.make_net)
    trainer = amp_kit.fit(module, tmp_path, precision="bf16-mixed", gradient_clip_val=0.1)
    assert module.losses == pytest.approx(two_optimizer_reference(amp_kit, bf16_autocast, 0.1), abs=1e-5)
    assert trainer.global_step == 2 * 6 * 2


def test_two_optimizers_16_mixed_update_once_all_stepped(amp_kit, tmp_path):
    """One scaler for both optimizers: each is unscaled with the scale its gradients were made with."""
    module = TwoOptimizers(amp_kit.make_net)
    amp_kit.fit(module, tmp_path, plugins=[FP16MixedPrecision(scaler=cpu_scaler(growth_interval=2))], gradient_clip_val=0.1)
    expected = two_optimizer_reference(amp_kit, fp16_autocast, 0.1, scaler=cpu_scaler(growth_interval=2))
    assert module.losses == pytest.approx(expected, abs=1e-5)


class Manual(lit.LightningModule):
    """Manual optimization with two optimizers over one backward pass, and clipping of the first."""

    def __init__(self, make_net) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = make_net()
        self.losses: list[float] = []
        self.before_backward: list[float] = []

    def training_step(self, batch, batch_idx):
        first, second = self.optimizers()
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.losses.append(loss.item())
        self.manual_backward(loss)
        self.clip_gradients(first, gradient_clip_val=0.05, gradient_clip_algorithm="norm")
        first.step()
        second.step()
        first.zero_grad()
        second.zero_grad()

    def on_before_backward(self, loss):
        self.before_backward.append(loss.item())

    def configure_optimizers(self):
        return [torch.optim.SGD(self.net[0].parameters(), lr=0.3, momentum=0.9), torch.optim.SGD(self.net[2].parameters(), lr=0.1)]


def manual_reference(kit, forward, scaler=None):
    net = kit.make_net()
    first = torch.optim.SGD(net[0].parameters(), lr=0.3, momentum=0.9)
    second = torch.optim.SGD(net[2].parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        for x, y in kit.make_loader():
            with forward():  # the whole manual training_step runs under autocast, backward included
                loss = F.cross_entropy(net(x), y)
                losses.append(loss.item())
                (scaler.scale(loss) if scaler is not None else loss).backward()
                if scaler is not None:
                    scaler.unscale_(first)
                torch.nn.utils.clip_grad_norm_(net[0].parameters(), 0.05)
                for optimizer in (first, second):
                    scaler.step(optimizer) if scaler is not None else optimizer.step()
                if scaler is not None:
                    scaler.update()
                first.zero_grad()
                second.zero_grad()
    return losses


def test_manual_optimization_bf16_mixed(amp_kit, tmp_path):
    module = Manual(amp_kit.make_net)
    trainer = amp_kit.fit(module, tmp_path, precision="bf16-mixed")
    assert module.losses == pytest.approx(manual_reference(amp_kit, bf16_autocast), abs=1e-5)
    assert trainer.global_step == 2 * 6 * 2


def test_manual_backward_scales_the_loss_16_mixed(amp_kit, tmp_path):
    module = Manual(amp_kit.make_net)
    plugin = FP16MixedPrecision(scaler=cpu_scaler(growth_interval=4))
    amp_kit.fit(module, tmp_path, plugins=[plugin])
    assert module.losses == pytest.approx(manual_reference(amp_kit, fp16_autocast, scaler=cpu_scaler(growth_interval=4)), abs=1e-5)
    scales = [scaled / loss for scaled, loss in zip(module.before_backward, module.losses)]
    assert scales[:4] == pytest.approx([2.0**10] * 4, rel=1e-3), "manual_backward back-propagates the scaled loss"
    assert scales[4] == pytest.approx(2.0**11, rel=1e-3), "grown after growth_interval=4 clean iterations"


def test_evaluation_runs_under_autocast(amp_kit, tmp_path):
    dtypes = {}

    class Evaluated(amp_kit.Recorder):
        def step(self, stage, batch):
            out = self.net(batch[0])
            dtypes.setdefault(stage, set()).add(out.dtype)
            return out

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", F.cross_entropy(self.step("validate", batch).float(), batch[1]))

        def test_step(self, batch, batch_idx):
            self.log("test_loss", F.cross_entropy(self.step("test", batch).float(), batch[1]))

        def predict_step(self, batch, batch_idx):
            return self.step("predict", batch)

        def training_step(self, batch, batch_idx):
            self.step("train", batch)
            return super().training_step(batch, batch_idx)

    module = Evaluated()
    trainer = amp_kit.fit(module, tmp_path, epochs=1, precision="bf16-mixed", num_sanity_val_steps=0)
    loader = amp_kit.make_loader()
    trainer.validate(module, loader, verbose=False)
    trainer.test(module, loader, verbose=False)
    predictions = trainer.predict(module, loader)
    assert dtypes == {stage: {torch.bfloat16} for stage in ("train", "validate", "test", "predict")}
    assert all(p.dtype == torch.bfloat16 for p in predictions)
    assert all(p.dtype == torch.float32 for p in module.parameters())


def test_true_precision_converts_evaluation_inputs(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, epochs=1, precision="bf16-true")
    module.predict_step = lambda batch, batch_idx: (batch[0].dtype, batch[1].dtype, module.net(batch[0]).dtype, torch.ones(1).dtype)
    assert set(trainer.predict(module, amp_kit.make_loader())) == {(torch.bfloat16, torch.int64, torch.bfloat16, torch.bfloat16)}


def test_inf_gradient_step_is_skipped_and_scale_backs_off(amp_kit, tmp_path):
    """An overflowing gradient (planted after backward, as float16 overflow would leave it) skips that step only."""
    spoiled_step = 3

    def spoil(net, step):
        if step == spoiled_step:
            net[0].weight.grad[0, 0] = float("inf")

    class Overflowing(amp_kit.Recorder):
        def __init__(self):
            super().__init__()
            self.steps, self.weights, self.scales = 0, [], []

        def on_before_backward(self, loss):
            self.scales.append(self.trainer.precision_plugin.scaler.get_scale())

        def on_after_backward(self):
            spoil(self.net, self.steps)
            self.steps += 1

        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.weights.append(amp_kit.weights(self))

    module = Overflowing()
    amp_kit.fit(module, tmp_path, plugins=[FP16MixedPrecision(scaler=cpu_scaler())])
    expected, net = amp_kit.reference(forward=fp16_autocast, scaler=cpu_scaler(), spoil=spoil)
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert all(torch.isfinite(p).all() for p in module.parameters())
    before, after = module.weights[spoiled_step - 1], module.weights[spoiled_step]
    assert all(torch.equal(a, b) for a, b in zip(before, after)), "the step with an inf gradient changed nothing"
    assert not torch.equal(module.weights[spoiled_step + 1][0], after[0]), "the next step trains again"
    assert module.scales[spoiled_step] == 2.0**10 and module.scales[spoiled_step + 1] == 2.0**9, "the scale halved"
    assert all(torch.equal(a, b) for a, b in zip(module.net.parameters(), net.parameters()))


def test_scaler_state_is_checkpointed_and_restored(amp_kit, tmp_path):
    """The scale grows every 2 clean steps; a resumed run starts from the saved scale, not the fresh one."""
    ckpt = tmp_path / "scaled.ckpt"

    class Watched(amp_kit.Recorder):
        def on_train_start(self):
            self.start_state = dict(self.trainer.precision_plugin.scaler.state_dict())

    first = Watched()
    trainer = amp_kit.fit(first, tmp_path, epochs=1, plugins=[FP16MixedPrecision(scaler=cpu_scaler(growth_interval=2))])
    trainer.save_checkpoint(ckpt)
    saved = torch.load(ckpt, weights_only=True)["precision"]
    assert saved["scale"] == 2.0**10 * 2**3 and saved["growth_interval"] == 2, "6 clean steps: grown 3 times"

    resumed = Watched()
    fresh = FP16MixedPrecision(scaler=torch.amp.GradScaler("cpu"))  # default init_scale 2**16, growth_interval 2000
    trainer = amp_kit.fit(resumed, tmp_path, epochs=2, plugins=[fresh], ckpt_path=ckpt)
    assert resumed.start_state == saved

    whole = Watched()
    uninterrupted = FP16MixedPrecision(scaler=cpu_scaler(growth_interval=2))
    amp_kit.fit(whole, tmp_path, epochs=2, plugins=[uninterrupted])
    assert resumed.losses == pytest.approx(whole.losses[6:], abs=1e-5)
    assert fresh.state_dict() == uninterrupted.state_dict() and fresh.scaler.get_scale() == 2.0**10 * 2**6


def test_bf16_mixed_and_true_precisions_save_no_precision_state(amp_kit, tmp_path):
    for precision in ("bf16-mixed", "bf16-true"):
        trainer = amp_kit.fit(amp_kit.Recorder(), tmp_path, epochs=1, precision=precision)
        trainer.save_checkpoint(tmp_path / f"{precision}.ckpt")
        assert "precision" not in torch.load(tmp_path / f"{precision}.ckpt", weights_only=True)
