"""A PPO-style actor-critic written like Lightning's PPO domain template, with its
``optimizer_step(self, *args, **kwargs)`` override that repeats each update ``nb_optim_iters`` times.

Two versions of the same program, each compared with a hand-written loop:

* manual optimization (Lightning 2.x's template): ``opt.step()`` steps once and the
  ``optimizer_step`` override is never called, so each batch updates each network once;
* automatic optimization with one optimizer: the override receives Lightning's arguments
  ``(epoch, batch_idx, optimizer, optimizer_closure)`` and steps ``nb_optim_iters`` times.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lit_core as pl

OBS, ACTIONS = 4, 3


def rollout_loader(n: int = 24, seed: int = 0) -> DataLoader:
    """A recorded rollout: observations, actions, their old log-probabilities, returns and advantages."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, OBS, generator=g)
    actions = torch.randint(ACTIONS, (n,), generator=g)
    old_logp = torch.log(torch.full((n,), 1.0 / ACTIONS))
    qvals = torch.randn(n, generator=g)
    adv = torch.randn(n, generator=g)
    return DataLoader(TensorDataset(obs, actions, old_logp, qvals, adv), batch_size=8)


def actor_loss(actor: nn.Module, obs, actions, old_logp, adv, clip_ratio: float) -> torch.Tensor:
    logp = torch.distributions.Categorical(logits=actor(obs)).log_prob(actions)
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1 - clip_ratio, 1 + clip_ratio) * adv
    return -(torch.min(ratio * adv, clipped)).mean()


def critic_loss(critic: nn.Module, obs, qvals) -> torch.Tensor:
    return (qvals - critic(obs).squeeze(-1)).pow(2).mean()


class PPOLightning(pl.LightningModule):
    def __init__(self, lr_actor: float = 0.05, lr_critic: float = 0.1, clip_ratio: float = 0.2, nb_optim_iters: int = 3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        torch.manual_seed(0)
        self.actor = nn.Sequential(nn.Linear(OBS, 16), nn.Tanh(), nn.Linear(16, ACTIONS))
        self.critic = nn.Sequential(nn.Linear(OBS, 16), nn.Tanh(), nn.Linear(16, 1))

    def training_step(self, batch, batch_idx):
        obs, actions, old_logp, qvals, adv = batch
        optimizer_actor, optimizer_critic = self.optimizers()

        loss_actor = actor_loss(self.actor, obs, actions, old_logp, adv, self.hparams.clip_ratio)
        self.manual_backward(loss_actor)
        optimizer_actor.step()
        optimizer_actor.zero_grad()

        loss_critic = critic_loss(self.critic, obs, qvals)
        self.manual_backward(loss_critic)
        optimizer_critic.step()
        optimizer_critic.zero_grad()

        self.log("loss_critic", loss_critic, on_step=False, on_epoch=True)
        self.log("loss_actor", loss_actor, on_step=False, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        optimizer_actor = torch.optim.SGD(self.actor.parameters(), lr=self.hparams.lr_actor)
        optimizer_critic = torch.optim.SGD(self.critic.parameters(), lr=self.hparams.lr_critic)
        return optimizer_actor, optimizer_critic

    def optimizer_step(self, *args, **kwargs):
        """Run ``nb_optim_iters`` updates per batch (the template's; inert in manual optimization)."""
        for _ in range(self.hparams.nb_optim_iters):
            super().optimizer_step(*args, **kwargs)


class PPOAutomatic(PPOLightning):
    """The same agent, actor and critic trained by one optimizer with automatic optimization."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = True
        self.step_args: list[tuple] = []

    def training_step(self, batch, batch_idx):
        obs, actions, old_logp, qvals, adv = batch
        loss = actor_loss(self.actor, obs, actions, old_logp, adv, self.hparams.clip_ratio) + critic_loss(self.critic, obs, qvals)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr_actor)

    def optimizer_step(self, *args, **kwargs):
        self.step_args.append((args[0], args[1], type(args[2]).__name__, callable(args[3]), kwargs))
        super().optimizer_step(*args, **kwargs)


def make_trainer(tmp_path) -> pl.Trainer:
    return pl.Trainer(max_epochs=2, default_root_dir=tmp_path, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_manual_ppo_steps_once_per_opt_step(tmp_path):
    model = PPOLightning()
    reference = copy.deepcopy(model)
    trainer = make_trainer(tmp_path)
    trainer.fit(model, rollout_loader())

    opt_actor = torch.optim.SGD(reference.actor.parameters(), lr=0.05)
    opt_critic = torch.optim.SGD(reference.critic.parameters(), lr=0.1)
    for _ in range(2):
        for obs, actions, old_logp, qvals, adv in rollout_loader():
            actor_loss(reference.actor, obs, actions, old_logp, adv, 0.2).backward()
            opt_actor.step()
            opt_actor.zero_grad()
            critic_loss(reference.critic, obs, qvals).backward()
            opt_critic.step()
            opt_critic.zero_grad()
    assert_same_weights(model, reference)
    assert trainer.global_step == 2 * 3 * 2
    assert set(trainer.callback_metrics) == {"loss_actor", "loss_critic"}


def test_automatic_ppo_override_gets_lightnings_arguments(tmp_path):
    model = PPOAutomatic()
    reference = copy.deepcopy(model)
    trainer = make_trainer(tmp_path)
    trainer.fit(model, rollout_loader())
    assert model.step_args == [(epoch, i, "SGD", True, {}) for epoch in range(2) for i in range(3)]

    # The override calls super().optimizer_step nb_optim_iters times: each runs the closure (forward,
    # backward from fresh gradients) and steps.
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05)
    for _ in range(2):
        for obs, actions, old_logp, qvals, adv in rollout_loader():
            for _ in range(3):
                optimizer.zero_grad()
                loss = actor_loss(reference.actor, obs, actions, old_logp, adv, 0.2) + critic_loss(reference.critic, obs, qvals)
                loss.backward()
                optimizer.step()
    assert_same_weights(model, reference)
