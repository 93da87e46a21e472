"""One optimizer + learning-rate scheduler builder for every LightningModule here (`configure_optimizers`)."""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf


def plain(cfg):
    """A config node as plain dicts and lists (resolved); anything else as it is."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


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
