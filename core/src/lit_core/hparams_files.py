"""Hyperparameter files: ``hparams.yaml`` (what the loggers write) and the older ``tags.csv``.

``load_from_checkpoint(path, hparams_file=...)`` reads these; the names and behaviour are
Lightning's, importable from Lightning's path ``lit_core.core.saving``. They live outside the
``lit_core.core`` package so that ``lit_core.checkpoint`` can import them at module level (the
package imports ``LightningModule``, whose module imports ``lit_core.checkpoint``).
"""

from __future__ import annotations

import ast
import csv
import os
from argparse import Namespace
from collections.abc import Mapping
from enum import Enum
from typing import Any

from .rank_zero import rank_zero_warn

__all__ = ["load_hparams_from_tags_csv", "load_hparams_from_yaml", "save_hparams_to_tags_csv", "save_hparams_to_yaml"]


def _omegaconf() -> Any:
    try:
        import omegaconf
    except ImportError:
        return None
    return omegaconf


def load_hparams_from_yaml(config_yaml: str | os.PathLike[str], use_omegaconf: bool = True) -> Any:
    """The hyperparameters in a YAML file, as a dict (an OmegaConf ``DictConfig`` when
    ``use_omegaconf`` and omegaconf is installed). A missing file warns and gives ``{}``.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "hparams.yaml")
    >>> save_hparams_to_yaml(path, {"lr": 0.1, "layers": [8, 4]})
    >>> load_hparams_from_yaml(path)
    {'layers': [8, 4], 'lr': 0.1}
    """
    import yaml

    if not os.path.isfile(config_yaml):
        rank_zero_warn(f"Missing hyperparameter file: {os.fspath(config_yaml)!r}; no hyperparameters read from it.")
        return {}
    with open(config_yaml) as f:
        hparams = yaml.full_load(f) or {}
    omegaconf = _omegaconf() if use_omegaconf else None
    if omegaconf is not None:
        return omegaconf.OmegaConf.create(hparams)
    return hparams


def save_hparams_to_yaml(config_yaml: str | os.PathLike[str], hparams: Mapping[str, Any] | Namespace,
                         use_omegaconf: bool = True) -> None:
    """Write ``hparams`` (a dict, ``Namespace`` or OmegaConf config) to a YAML file.

    A value YAML cannot represent is skipped with a warning naming it, as in Lightning.

    :raises TypeError: when ``hparams`` is not a mapping or a Namespace.
    """
    import yaml

    if isinstance(hparams, Namespace):
        hparams = vars(hparams)
    omegaconf = _omegaconf() if use_omegaconf else None
    if omegaconf is not None and isinstance(hparams, omegaconf.DictConfig | omegaconf.ListConfig):
        with open(config_yaml, "w", encoding="utf-8") as f:
            omegaconf.OmegaConf.save(hparams, f, resolve=True)
        return
    if not isinstance(hparams, Mapping):
        raise TypeError(f"save_hparams_to_yaml: hparams must be a dict or an argparse.Namespace, got {type(hparams).__name__}.")
    kept: dict[str, Any] = {}
    for key, value in hparams.items():
        if omegaconf is not None and isinstance(value, omegaconf.DictConfig | omegaconf.ListConfig):
            value = omegaconf.OmegaConf.to_container(value, resolve=True)
        if isinstance(value, Enum):
            value = value.name
        try:
            # safe_dump: the file reads back with yaml.safe_load (no Python object tags).
            yaml.safe_dump(value)
        except (TypeError, ValueError, yaml.YAMLError):
            rank_zero_warn(f"Skipping hyperparameter {key!r} of type {type(value).__name__}: YAML cannot represent it.")
            continue
        kept[key] = value
    with open(config_yaml, "w", newline="") as f:
        yaml.safe_dump(kept, f)


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def load_hparams_from_tags_csv(tags_csv: str | os.PathLike[str]) -> dict[str, Any]:
    """The hyperparameters in a ``key,value`` CSV file (Lightning 0.x's ``tags.csv``); values that
    read as Python literals (``0.1``, ``True``, ``[1, 2]``) are converted. A missing file warns and gives ``{}``.
    """
    if not os.path.isfile(tags_csv):
        rank_zero_warn(f"Missing hyperparameter file: {os.fspath(tags_csv)!r}; no hyperparameters read from it.")
        return {}
    with open(tags_csv, newline="") as f:
        rows = list(csv.DictReader(f, delimiter=","))
    return {row["key"]: _literal(row["value"]) for row in rows}


def save_hparams_to_tags_csv(tags_csv: str | os.PathLike[str], hparams: Mapping[str, Any] | Namespace) -> None:
    """Write ``hparams`` as ``key,value`` rows (``load_hparams_from_tags_csv`` reads them back).

    :raises FileNotFoundError: when the folder does not exist.
    """
    folder = os.path.dirname(os.fspath(tags_csv))
    if folder and not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {os.fspath(tags_csv)!r}: the folder {folder!r} does not exist.")
    if isinstance(hparams, Namespace):
        hparams = vars(hparams)
    with open(tags_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["key", "value"], delimiter=",")
        writer.writeheader()
        for key, value in hparams.items():
            writer.writerow({"key": key, "value": value})


def load_hparams_file(hparams_file: str | os.PathLike[str]) -> dict[str, Any]:
    """``hparams_file`` for ``load_from_checkpoint``: a ``.yaml`` / ``.yml`` or ``.csv`` file, as a dict.

    :raises ValueError: for another extension.
    """
    extension = os.fspath(hparams_file).rsplit(".", 1)[-1].lower()
    if extension in ("yaml", "yml"):
        return dict(load_hparams_from_yaml(hparams_file, use_omegaconf=False))
    if extension == "csv":
        return load_hparams_from_tags_csv(hparams_file)
    raise ValueError(f"hparams_file={os.fspath(hparams_file)!r}: give a .yaml or a .csv file.")
