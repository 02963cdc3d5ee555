"""A PPO-like agent in manual optimization: each training_step is one rollout batch from an
IterableDataset, optimized for several epochs with clipped gradients and a manually stepped
scheduler (the shape of lightning-bolts' and the Lightning examples' RL modules)."""
import json

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from torch import nn
from torch.utils.data import DataLoader, IterableDataset


class RolloutBuffer(IterableDataset):
    def __init__(self, steps, obs_dim=4, seed=0):
        self.steps, self.obs_dim, self.seed = steps, obs_dim, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.steps):
            obs = torch.randn(self.obs_dim, generator=g)
            action = torch.randint(0, 2, (), generator=g)
            advantage = obs[0] * (1 if action == 1 else -1)
            yield obs, action, advantage, torch.log(torch.tensor(0.5))


class PPO(LightningModule):
    def __init__(self, update_epochs=3, clip_coef=0.2, lr=3e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.actor = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
        self.updates = 0

    def training_step(self, batch, batch_idx):
        obs, actions, advantages, old_logprobs = batch
        opt = self.optimizers()
        sch = self.lr_schedulers()
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        for _ in range(self.hparams.update_epochs):
            logprobs = torch.distributions.Categorical(logits=self.actor(obs)).log_prob(actions)
            ratio = (logprobs - old_logprobs).exp()
            clipped = torch.clamp(ratio, 1 - self.hparams.clip_coef, 1 + self.hparams.clip_coef)
            loss = -torch.min(ratio * advantages, clipped * advantages).mean()
            opt.zero_grad()
            self.manual_backward(loss)
            self.clip_gradients(opt, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
            opt.step()
            self.updates += 1
        sch.step()
        self.log("policy_loss", loss, prog_bar=True)
        self.log("lr", sch.get_last_lr()[0])

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.actor.parameters(), lr=self.hparams.lr)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)]

    def train_dataloader(self):
        return DataLoader(RolloutBuffer(steps=8 * 32), batch_size=32)


if __name__ == "__main__":
    seed_everything(1)
    agent = PPO()
    trainer = Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(agent)
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "updates": agent.updates,
        "current_epoch": trainer.current_epoch,
        "lr": trainer.callback_metrics["lr"].item(),
        "policy_loss": trainer.callback_metrics["policy_loss"].item(),
        "actor_weight_sum": agent.actor[0].weight.sum().item(),
    }))
