"""One optimizer + learning-rate scheduler builder for every LightningModule here (`configure_optimizers`)."""

from __future__ import annotations

import math

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from lstm_imdb.utils.errors import ConfigError, refuse


def plain(cfg):
    """A config node as plain dicts and lists (resolved); anything else as it is."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


def check_target(key: str, cfg: dict | None, base: type) -> None:
    """Fail early (before any data work) on a `_target_` that is not an importable `base` subclass."""
    if cfg is None:
        return
    target = cfg.get("_target_") if isinstance(cfg, dict) else None
    if not target:
        raise ConfigError(f"{key} needs a _target_ (e.g. torch.optim.Adam), got {cfg}")
    try:
        cls = get_class(target)
    except Exception as err:
        raise ConfigError(f"{key}._target_={target!r}: cannot be imported ({err})") from err
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{key}._target_={target!r}: not a {base.__module__}.{base.__name__}")


def build_optimizers(
    groups: list,
    optimizer: dict,
    scheduler: dict | None,
    estimated_steps=None,
    interval: str = "epoch",
    monitor: str | None = None,
):
    """The optimizer over `groups` (parameters, or dicts of parameters with their own `lr`), and the
    scheduler if one is configured, in Lightning's format.

    A scheduler config may say when it steps (`interval: step`) and what it watches (`monitor`);
    `total_steps: auto` becomes every optimizer step of the planned run (`estimated_steps()`); with several
    parameter groups, `max_lr` (OneCycleLR) is scaled per group as the groups' own learning rates are.
    """
    # partial: Hydra would turn the groups (dicts) into configs
    built = instantiate(optimizer, _partial_=True)(params=groups)
    if not scheduler:
        return built
    cfg = dict(scheduler)
    dict_groups = [g for g in groups if isinstance(g, dict)]
    if len(dict_groups) > 1 and "max_lr" in cfg:  # each group peaks at its own rate
        cfg["max_lr"] = [cfg["max_lr"] * g["lr"] / dict_groups[-1]["lr"] for g in dict_groups]
    interval = cfg.pop("interval", interval)
    monitor = cfg.pop("monitor", monitor)
    if cfg.get("total_steps") == "auto":
        cfg["total_steps"] = int(estimated_steps())
    lr_scheduler = instantiate(cfg, optimizer=built, _convert_="all")  # max_lr may be a list
    return {
        "optimizer": built,
        "lr_scheduler": {"scheduler": lr_scheduler, "monitor": monitor, "interval": interval},
    }


def check_optimizers(
    optimizer: dict, scheduler: dict | None, interval: str = "epoch", section: str = "model"
) -> None:
    """Fail before any data work on a learning rate that cannot train, a `_target_` that is not an optimizer
    or scheduler, or on settings that it refuses (`weight_decay=-1`, a misspelled keyword): both are built
    once here, on a stand-in parameter, as `configure_optimizers` builds them only once the data is loaded
    (a wide model: after its NBSVM fit). `section`: the config group the settings come from (`lm` for
    `pretrain`), so that the messages name the keys the user typed."""
    lr = optimizer.get("lr", 1.0)  # torch takes lr=0, which trains nothing
    problems = (
        []
        if isinstance(lr, (int, float)) and 0 < lr < math.inf
        else [f"{section}.optimizer.lr={lr!r}: must be a finite number > 0"]
    )
    if interval not in ("epoch", "step"):
        problems.append(f"{section}.scheduler_interval={interval!r}: must be epoch or step")
    refuse(section, problems)
    check_target(f"{section}.optimizer", optimizer, torch.optim.Optimizer)
    check_target(f"{section}.scheduler", scheduler, torch.optim.lr_scheduler.LRScheduler)
    stand_in = [torch.nn.Parameter(torch.zeros(1))]
    for key, cfg, with_scheduler in (
        (f"{section}.optimizer", optimizer, None),
        (f"{section}.scheduler", scheduler, scheduler),
    ):
        if cfg is None:
            continue
        try:
            build_optimizers(stand_in, optimizer, with_scheduler, estimated_steps=lambda: 1000)
        except Exception as err:  # the library's own message says what is wrong; Hydra may wrap it
            cause = err.__cause__ or err
            raise ConfigError(f"{key}: {cfg['_target_']} refuses its settings: {cause}") from err
