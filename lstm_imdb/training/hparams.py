"""What TensorBoard's HPARAMS tab compares, and the composed config printed as a tree."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from lstm_imdb.training.tensorboard import FINAL

# Settings that cannot change a result (where files live, how fast batches arrive, where it runs): kept
# out of TensorBoard's HPARAMS, whose columns should be what a researcher compares.
_NOT_HPARAMS = {
    "_recursive_",
    "data_dir",
    "acl_dir",
    "source",
    "hub_timeout",
    "num_workers",
    "pin_memory",
    "eval_batch_size",
    "default_root_dir",
    "accelerator",
    "devices",
    "num_nodes",
    "log_every_n_steps",
    "check_val_every_n_epoch",
    "sync_batchnorm",
    "use_distributed_sampler",
    "scheduler_monitor",
    "profiler",
}


def _flat(prefix: str, node) -> dict:
    """Nested config -> {"prefix/key/...": value}; a `_target_` becomes `name` (its class name)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for key, value in node.items():
        if key in _NOT_HPARAMS or value is None:
            continue
        if key == "_target_":
            out[f"{prefix}/name"] = str(value).rsplit(".", 1)[-1]
        else:
            out.update(_flat(f"{prefix}/{key}", value))
    return out


def collect_hyperparameters(cfg: DictConfig, model: L.LightningModule, extra: dict) -> dict:
    """What TensorBoard's HPARAMS tab compares, flat: the experiment, seed and tags first, then the settings that can
    change a result (model, optimizer, scheduler, data sizes, the trainer's epochs, precision and
    clipping); no paths, worker counts or `_target_` strings of the model and data classes."""
    model_cfg, data_cfg, trainer_cfg = (
        {k: v for k, v in OmegaConf.to_container(cfg[group], resolve=True).items() if k != "_target_"}
        for group in ("model", "data", "trainer")
    )
    return {
        "experiment": _experiment(),
        "seed": cfg.get("seed"),
        "tags": ",".join(map(str, cfg.get("tags") or [])),
        **_flat("model", model_cfg),
        **_flat("data", data_cfg),
        **_flat("trainer", trainer_cfg),
        "params/total": sum(p.numel() for p in model.parameters()),
        **extra,
    }


def _experiment() -> str:
    """The experiment this run composed (`default` when none, or outside Hydra: tests, notebooks)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "default"
    return HydraConfig.get().runtime.choices.get("experiment") or "default"


@rank_zero_only
def print_config_tree(cfg: DictConfig, order=("data", "model", "trainer", "callbacks", "logger")):
    """The composed config as a tree (rich), its main groups first; `print_config=false` turns it off."""
    from rich import print as rich_print
    from rich.syntax import Syntax
    from rich.tree import Tree

    tree = Tree("config", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order and k != "hydra"]
    for key in keys:
        value = cfg[key]
        if isinstance(value, DictConfig):
            try:
                text = OmegaConf.to_yaml(value, resolve=True)
            except Exception:  # an interpolation that only resolves later: show it as written
                text = OmegaConf.to_yaml(value)
        else:
            text = str(value)
        tree.add(str(key)).add(Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default"))
    rich_print(tree)


@rank_zero_only
def print_overrides(cfg: DictConfig) -> None:
    """The run in a few lines: where its folder is, its experiment and the overrides of the command line."""
    from hydra.core.hydra_config import HydraConfig

    print(f"Run folder: {cfg.paths.output_dir}")
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        overrides = " ".join(hydra.overrides.task) or "none"
        print(f"experiment: {_experiment()}   overrides: {overrides}")
    print("The whole config: .hydra/config.yaml in the run folder (print_config=full prints it here)")


def log_hyperparameters(trainer: L.Trainer, hparams: dict, metrics: dict[str, float] | None = None) -> None:
    """Send hparams to every logger; with `metrics`, TensorBoard also records them as the run's final
    values in its HPARAMS tab (Lightning's TensorBoardLogger writes the hparams summary only then)."""
    for lg in trainer.loggers:
        if isinstance(lg, TensorBoardLogger) and metrics:
            lg.log_hyperparams(hparams, metrics=metrics)
        elif metrics:  # `~final/` sorts last in TensorBoard; MLflow's names allow no `~`
            plain = {k.replace(f"{FINAL}/", "final/", 1): v for k, v in metrics.items()}
            lg.log_metrics(plain, step=trainer.global_step)
        else:
            lg.log_hyperparams(hparams)
        lg.save()
