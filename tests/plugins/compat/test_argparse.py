"""Lightning 1.x's argparse helpers (issue 13 §3): ``Trainer`` / ``LightningDataModule``
``add_argparse_args``, ``from_argparse_args``, ``parse_argparser``, with 1.9's parsing rules."""

from __future__ import annotations

import inspect
from argparse import ArgumentParser, Namespace

import pytest

import lit_core as lit


def trainer_parser(*argv: str) -> Namespace:
    parser = ArgumentParser()
    parser.add_argument("--hidden_dim", type=int, default=8)  # the program's own option
    with pytest.deprecated_call(match=r"Trainer.add_argparse_args is deprecated"):
        parser = lit.Trainer.add_argparse_args(parser)
    return parser.parse_args(list(argv))


def test_trainer_options_have_the_init_types_and_defaults():
    args = trainer_parser()
    assert args.max_epochs is None and args.max_steps == -1 and args.accumulate_grad_batches == 1
    assert args.check_val_every_n_epoch == 1 and args.precision == "32-true" and args.hidden_dim == 8
    assert not hasattr(args, "logger") and not hasattr(args, "callbacks")  # objects are not options
    assert not hasattr(args, "track_grad_norm")  # 1.x-only flags appear only when given


def test_trainer_options_parse_like_lightning_1_9():
    args = trainer_parser(
        "--max_epochs", "3", "--limit_train_batches", "0.25", "--limit_val_batches", "2", "--gpus", "0,1",
        "--devices", "2", "--precision", "16", "--fast_dev_run", "true", "--enable_checkpointing", "--deterministic",
        "warn", "--gradient_clip_val", "0.5", "--track_grad_norm", "2", "--default_root_dir", "/tmp/x",
    )
    assert args.max_epochs == 3 and args.limit_train_batches == 0.25 and args.limit_val_batches == 2
    assert isinstance(args.limit_val_batches, int)
    assert args.gpus == "0,1" and args.devices == 2 and args.precision == 16
    assert args.fast_dev_run is True and args.enable_checkpointing is True and args.deterministic == "warn"
    assert args.gradient_clip_val == 0.5 and args.track_grad_norm == 2.0 and args.default_root_dir == "/tmp/x"
    assert trainer_parser("--fast_dev_run", "3").fast_dev_run == 3
    with pytest.raises(SystemExit):
        trainer_parser("--enable_checkpointing", "maybe")


def test_from_argparse_args_ignores_the_programs_own_options(tmp_root):
    args = trainer_parser("--max_epochs", "2", "--limit_train_batches", "3", "--hidden_dim", "16",
                          "--default_root_dir", str(tmp_root), "--accelerator", "cpu")
    with pytest.deprecated_call(match=r"Trainer.from_argparse_args is deprecated"):
        trainer = lit.Trainer.from_argparse_args(args, logger=False, enable_progress_bar=False)
    assert trainer.max_epochs == 2 and trainer.limit_train_batches == 3 and not trainer.loggers


def test_from_argparse_args_passes_given_1x_flags_to_their_translation(tmp_root):
    args = trainer_parser("--replace_sampler_ddp", "false", "--accelerator", "cpu", "--default_root_dir", str(tmp_root))
    with pytest.deprecated_call() as record:
        trainer = lit.Trainer.from_argparse_args(args, logger=False)
    messages = [str(w.message) for w in record]
    assert any("from_argparse_args is deprecated" in m for m in messages)
    assert any("replace_sampler_ddp=False) is deprecated" in m for m in messages)
    assert trainer.use_distributed_sampler is False


def test_from_argparse_args_takes_a_dict_and_overrides(tmp_root):
    with pytest.deprecated_call():
        trainer = lit.Trainer.from_argparse_args({"max_epochs": 5, "unrelated": 1}, max_epochs=7, logger=False,
                                                 accelerator="cpu", default_root_dir=tmp_root)
    assert trainer.max_epochs == 7


def test_parse_argparser(monkeypatch):
    parser = ArgumentParser()
    with pytest.deprecated_call():
        lit.Trainer.add_argparse_args(parser)
    monkeypatch.setattr("sys.argv", ["train.py", "--max_steps", "10"])
    with pytest.deprecated_call(match="parse_argparser is deprecated"):
        args = lit.Trainer.parse_argparser(parser)
    assert args.max_steps == 10 and args.inference_mode is True


def test_default_attributes_and_types():
    defaults = lit.Trainer.default_attributes()
    assert defaults["max_steps"] == -1 and defaults["accelerator"] == "auto"
    types = {name: t for name, t, _ in lit.Trainer.get_init_arguments_and_types()}
    assert set(types["limit_train_batches"]) >= {int, float} and bool in types["fast_dev_run"]


class DataModule(lit.LightningDataModule):
    def __init__(self, data_dir: str = "./data", batch_size: int = 32, num_workers: int = 0, shuffle: bool = True,
                 val_fraction: float = 0.1, transform: object = None) -> None:
        super().__init__()
        self.data_dir, self.batch_size, self.shuffle, self.val_fraction = data_dir, batch_size, shuffle, val_fraction


def test_datamodule_argparse_round_trip():
    parser = ArgumentParser()
    with pytest.deprecated_call(match="DataModule.add_argparse_args is deprecated"):
        parser = DataModule.add_argparse_args(parser)
    args = parser.parse_args(["--batch_size", "64", "--shuffle", "no", "--val_fraction", "0.2"])
    assert args.data_dir == "./data" and args.batch_size == 64 and args.shuffle is False and not hasattr(args, "transform")
    args.max_epochs = 3  # a Trainer option in the same namespace is ignored
    with pytest.deprecated_call(match="DataModule.from_argparse_args is deprecated"):
        dm = DataModule.from_argparse_args(args, data_dir="/data")
    assert (dm.data_dir, dm.batch_size, dm.shuffle, dm.val_fraction) == ("/data", 64, False, 0.2)


def test_required_arguments_are_required():
    class Needs(lit.LightningDataModule):
        def __init__(self, root: str, batch_size: int = 4) -> None:
            super().__init__()

    parser = ArgumentParser()
    with pytest.deprecated_call():
        parser = Needs.add_argparse_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert parser.parse_args(["--root", "r"]).root == "r"


def test_argument_group_and_standalone_parser():
    parent = ArgumentParser()
    with pytest.deprecated_call():
        child = DataModule.add_argparse_args(parent, use_argument_group=False)
    assert child is not parent and child.parse_args(["--batch_size", "2"]).batch_size == 2
    group = ArgumentParser().add_argument_group("g")
    with pytest.deprecated_call(), pytest.raises(RuntimeError, match="not an argument group"):
        DataModule.add_argparse_args(group)


def test_signature_of_trainer_has_no_legacy_names():
    # 1.x flags go through **legacy_kwargs; argparse must not offer the VAR_KEYWORD itself.
    assert "legacy_kwargs" in inspect.signature(lit.Trainer.__init__).parameters
    assert "legacy_kwargs" not in lit.Trainer.default_attributes()
