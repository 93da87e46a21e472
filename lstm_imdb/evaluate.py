"""Re-test a checkpoint (or an ensemble of checkpoints) on the validation split, the test split and
rotten_tomatoes, and write the same report as training.

python -m lstm_imdb.evaluate ckpt_path=logs/train/runs/<run>/checkpoints/best.ckpt
python -m lstm_imdb.evaluate ckpt_path=logs/train/runs/<run>                   # a run folder: its best.ckpt
python -m lstm_imdb.evaluate ckpt_path=logs/train/multiruns/<sweep>            # a sweep: the ensemble of its runs
python -m lstm_imdb.evaluate ckpt_path=... data.source=acl data.acl_dir=/path/to/aclImdb
python -m lstm_imdb.evaluate ckpt_path=logs/train/multiruns/<sweep> ensemble_weights=validation  # weights fitted on validation
python -m lstm_imdb.evaluate 'ckpt_path=[<sweep>,<other sweep>]'               # members of other data settings

Members may read reviews differently (another vocabulary, length, truncation side or n-gram settings): each
reads every review its own way (`data/views.py`). They must hold out the same validation reviews (the same
data.source, data.val_fraction, data.val_seed and data.val_fold).

The validation score is the one to choose between models and ensembles with: it is computed on the same
held-out reviews the checkpoints were validated on (the split is drawn with `data.val_seed`, stored in
each checkpoint), and never used for training them.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from lstm_imdb.cli import entry
from lstm_imdb.data.datamodule import IMDBDataModule
from lstm_imdb.data.views import ViewsDataModule, ViewsError, check_same_split
from lstm_imdb.inference.checkpoint import LoadedCheckpoint, load_model
from lstm_imdb.inference.ensemble_blend import (
    EnsembleWeightsError,
    apply_ensemble_weights,
    save_ensemble_weights,
)
from lstm_imdb.runs.folder import ENVIRONMENT, write_json
from lstm_imdb.runs.provenance import environment
from lstm_imdb.runs.report import finish_run
from lstm_imdb.training.setup import instantiate_group, tensorboard_writer
from lstm_imdb.training.trainer_config import check_trainer_config


def evaluation_data(loaded: LoadedCheckpoint, overrides: dict) -> IMDBDataModule | ViewsDataModule:
    """The data encoded with the checkpoint's vocabulary and settings, as the model expects, whatever the
    data; for an ensemble whose members read the reviews differently, every member's way at once."""
    # the split as each member will read it: an override (data.source, data.acl_dir) applies to all
    check_same_split([{**hp, **overrides} for hp in loaded.member_data or [loaded.data_hparams]])
    views = loaded.views or [(loaded.data_hparams, loaded.tokenizer)]
    modules = [IMDBDataModule(**{**hp, **overrides}, tokenizer=tokenizer) for hp, tokenizer in views]
    return modules[0] if len(modules) == 1 else ViewsDataModule(modules)


@entry("evaluate", usage_errors=(EnsembleWeightsError, ViewsError))
def main(cfg: DictConfig) -> dict[str, float]:
    env = environment()  # the code as it stood when the command started
    check_trainer_config(cfg.get("trainer"))
    loaded, paths = load_model(cfg.ckpt_path)
    overrides = {k: v for k, v in cfg.data.items() if v is not None}
    datamodule = evaluation_data(loaded, overrides)
    blend = apply_ensemble_weights(cfg.get("ensemble_weights"), loaded, paths, datamodule)
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    metrics = {}
    for results in trainer.validate(loaded.model, datamodule=datamodule):
        metrics.update({k: float(v) for k, v in results.items() if k != "val/acc_best"})
    for results in trainer.test(loaded.model, datamodule=datamodule, verbose=False):
        metrics.update({k: float(v) for k, v in results.items()})
    if trainer.is_global_zero:  # what produced these figures: this commit, machine and precision
        env.update(precision=str(trainer.precision), data=datamodule.data_fingerprint)
        write_json(Path(cfg.paths.output_dir) / ENVIRONMENT, env)
    extra = {"checkpoints": [str(p) for p in paths]}
    if blend is not None:
        metrics["val/acc_out_of_fold"] = blend.get("val/acc_out_of_fold", float("nan"))
        extra["ensemble_weights"] = str(save_ensemble_weights(cfg.paths.output_dir, blend, paths))
    return finish_run(
        cfg.paths.output_dir,
        metrics,
        loaded.model.test_predictions,
        datamodule.seen_in_train,
        rows=loaded.model.test_rows,
        tb_writer=tensorboard_writer(loggers),
        extra=extra,
    )


if __name__ == "__main__":
    main()
