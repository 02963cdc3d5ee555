"""A GAN domain template in the 2.x style: manual optimization, ``training_step(self, batch)``
without batch_idx, two optimizers toggled in turn, sample images generated on epoch end."""
import json
import os
from argparse import ArgumentParser

import torch
import torch.nn as nn
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule, LightningModule, Trainer, seed_everything
from torch.utils.data import DataLoader, TensorDataset


class Generator(nn.Module):
    def __init__(self, latent_dim, img_shape):
        super().__init__()
        self.img_shape = img_shape
        self.model = nn.Sequential(nn.Linear(latent_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, 16), nn.Tanh())

    def forward(self, z):
        return self.model(z).view(z.size(0), *self.img_shape)


class Discriminator(nn.Module):
    def __init__(self, img_shape):
        super().__init__()
        self.model = nn.Sequential(nn.Flatten(), nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, img):
        return self.model(img)


class BlobsDataModule(LightningDataModule):
    def __init__(self, batch_size=16):
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(3)
        images = torch.tanh(torch.randn(128, 1, 4, 4, generator=g) * 0.5 + 0.3)
        self.train_set = TensorDataset(images)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)


class GAN(LightningModule):
    def __init__(self, latent_dim=8, lr=0.002, b1=0.5, b2=0.999):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = Generator(latent_dim, (1, 4, 4))
        self.discriminator = Discriminator((1, 4, 4))
        self.validation_z = torch.randn(6, latent_dim)
        self.epoch_samples = []

    def forward(self, z):
        return self.generator(z)

    def adversarial_loss(self, y_hat, y):
        return F.binary_cross_entropy_with_logits(y_hat, y)

    def training_step(self, batch):
        (imgs,) = batch
        optimizer_g, optimizer_d = self.optimizers()
        z = torch.randn(imgs.shape[0], self.hparams.latent_dim).type_as(imgs)

        self.toggle_optimizer(optimizer_g)
        valid = torch.ones(imgs.size(0), 1).type_as(imgs)
        g_loss = self.adversarial_loss(self.discriminator(self(z)), valid)
        self.log("g_loss", g_loss, prog_bar=True)
        self.manual_backward(g_loss)
        optimizer_g.step()
        optimizer_g.zero_grad()
        self.untoggle_optimizer(optimizer_g)

        self.toggle_optimizer(optimizer_d)
        real_loss = self.adversarial_loss(self.discriminator(imgs), valid)
        fake = torch.zeros(imgs.size(0), 1).type_as(imgs)
        fake_loss = self.adversarial_loss(self.discriminator(self(z).detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        self.log("d_loss", d_loss, prog_bar=True)
        self.manual_backward(d_loss)
        optimizer_d.step()
        optimizer_d.zero_grad()
        self.untoggle_optimizer(optimizer_d)

    def configure_optimizers(self):
        lr, b1, b2 = self.hparams.lr, self.hparams.b1, self.hparams.b2
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(b1, b2))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(b1, b2))
        return [opt_g, opt_d], []

    def on_train_epoch_end(self):
        z = self.validation_z.type_as(self.generator.model[0].weight)
        self.epoch_samples.append(self(z).detach().mean().item())


def main(args):
    seed_everything(args.seed)
    model = GAN(latent_dim=args.latent_dim, lr=args.lr)
    trainer = Trainer(accelerator="cpu", devices=1, max_epochs=args.max_epochs, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, default_root_dir=os.getcwd())
    trainer.fit(model, BlobsDataModule())
    return {
        "global_step": trainer.global_step,
        "current_epoch": trainer.current_epoch,
        "g_loss": trainer.callback_metrics["g_loss"].item(),
        "d_loss": trainer.callback_metrics["d_loss"].item(),
        "epoch_samples": model.epoch_samples,
        "requires_grad_restored": all(p.requires_grad for p in model.parameters()),
    }


if __name__ == "__main__":
    parser = ArgumentParser()
    parser.add_argument("--latent_dim", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--max_epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    print("RESULT " + json.dumps(main(parser.parse_args([]))))
