"""Lightning's ``lightning.pytorch.core.saving`` path for the hyperparameter-file functions (``lit_core.hparams_files``)."""

from ..hparams_files import load_hparams_from_tags_csv, load_hparams_from_yaml, save_hparams_to_tags_csv, save_hparams_to_yaml

__all__ = ["load_hparams_from_tags_csv", "load_hparams_from_yaml", "save_hparams_to_tags_csv", "save_hparams_to_yaml"]
