"""Transfer learning: a frozen "pretrained" backbone unfrozen by BackboneFinetuning at epoch 2,
in the shape of Lightning's computer-vision fine-tuning example (tiny MLP in place of a ResNet)."""
import json

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import BackboneFinetuning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TransferLearningModel(L.LightningModule):
    def __init__(self, lr=1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.backbone = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU())
        self.head = nn.Linear(24, 2)
        self.trainable_per_epoch = []
        self.groups_per_epoch = []

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def on_train_epoch_start(self):
        self.trainable_per_epoch.append(sum(p.numel() for p in self.parameters() if p.requires_grad))
        self.groups_per_epoch.append(len(self.trainer.optimizers[0].param_groups))

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, self.parameters()), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3], gamma=0.1)
        return [optimizer], [scheduler]


if __name__ == "__main__":
    L.seed_everything(2024)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(256, 12, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    finetuning = BackboneFinetuning(unfreeze_backbone_at_epoch=2, lambda_func=lambda epoch: 1.5,
                                    backbone_initial_ratio_lr=0.1, should_align=True, train_bn=True)
    trainer = L.Trainer(max_epochs=5, callbacks=[finetuning], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    model = TransferLearningModel()
    trainer.fit(model, loader)
    groups = trainer.optimizers[0].param_groups
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "trainable_per_epoch": model.trainable_per_epoch,
        "groups_per_epoch": model.groups_per_epoch,
        "final_group_lrs": [g["lr"] for g in groups],
        "backbone_lr": finetuning.previous_backbone_lr,
        "train_loss": trainer.callback_metrics["train_loss"].item(),
    }))
