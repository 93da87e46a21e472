"""`python -m lstm_imdb.train`, `evaluate` and `predict` end to end on tiny data, as a user runs them. The in-process checks; the runs
are in tests/e2e/test_train_entrypoints.py."""

from __future__ import annotations


def test_ensemble_averages_member_probabilities():
    import torch

    from lstm_imdb.models.encoder import EnsembleEncoder, RNNEncoder

    torch.manual_seed(0)
    a, b = RNNEncoder(vocab_size=20, embedding_dim=4, hidden_size=4).eval(), RNNEncoder(vocab_size=20).eval()
    ids = torch.randint(1, 20, (3, 5))
    want = (torch.sigmoid(a(ids)) + torch.sigmoid(b(ids))) / 2
    torch.testing.assert_close(torch.sigmoid(EnsembleEncoder([a, b])(ids)), want)


def test_weighted_ensemble_and_weights_fitted_on_validation(tmp_path):
    import numpy as np
    import pytest
    import torch

    from lstm_imdb.inference.ensemble_blend import (
        fit_ensemble_weights,
        read_ensemble_weights,
        save_ensemble_weights,
    )
    from lstm_imdb.models.encoder import EnsembleEncoder, RNNEncoder

    torch.manual_seed(0)
    a, b = RNNEncoder(vocab_size=20, embedding_dim=4, hidden_size=4).eval(), RNNEncoder(vocab_size=20).eval()
    ids = torch.randint(1, 20, (3, 5))
    torch.testing.assert_close(
        EnsembleEncoder([a, b], weights=[2.0, -1.0], bias=0.5)(ids), 2 * a(ids) - b(ids) + 0.5
    )
    with pytest.raises(ValueError, match="1 ensemble weights for 2 members"):
        EnsembleEncoder([a, b], weights=[1.0])

    # an informative member and a noise member: the fit leans on the first, and says how it scores out of fold
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    logits = np.stack([(2 * labels - 1) * 1.5 + rng.normal(0, 1, 600), rng.normal(0, 3, 600)], axis=1)
    blend = fit_ensemble_weights(logits, labels)
    assert blend["weights"][0] > 1.0 and abs(blend["weights"][1]) < 0.2
    assert blend["val/acc_out_of_fold"] > blend["val/acc_mean_probability"] > 0.5

    paths = [tmp_path / "0" / "best.ckpt", tmp_path / "1" / "best.ckpt"]
    written = save_ensemble_weights(tmp_path / "eval", blend, paths)
    assert read_ensemble_weights(written, paths)["weights"] == blend["weights"]
    with pytest.raises(ValueError, match="was fitted for the checkpoints"):
        read_ensemble_weights(written, paths[::-1])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="is not an ensemble_weights.json"):
        read_ensemble_weights(tmp_path / "bad.json", paths)


def test_trainer_values_the_fit_loop_would_fail_on_are_refused_at_set_up():
    """Values Lightning's Trainer accepts when built but fails on inside the fit loop (after data loading and
    a wide model's NBSVM fit): refused up front, each named with what it takes; sound configs pass."""
    import pytest
    from hydra import compose, initialize_config_dir

    from lstm_imdb.cli import startup
    from lstm_imdb.training.trainer_config import check_trainer_config
    from lstm_imdb.utils.paths import CONFIG_DIR

    startup()
    for experiment in ("keras_tutorial", "best_single", "best"):
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            check_trainer_config(compose("train", [f"experiment={experiment}"]).trainer)
    good = {
        "max_epochs": -1,
        "min_epochs": None,
        "max_steps": 100,
        "gradient_clip_val": 0.5,
        "deterministic": "warn",
    }
    check_trainer_config(good)
    check_trainer_config({"max_epochs": 3, "check_val_every_n_epoch": None, "num_sanity_val_steps": -1})
    for bad, message in [
        ({"max_epochs": "six"}, "trainer.max_epochs='six': must be an integer >= 0, -1 (no limit) or null"),
        ({"max_epochs": 2.5}, "trainer.max_epochs=2.5"),
        ({"max_epochs": True}, "trainer.max_epochs=True"),
        ({"check_val_every_n_epoch": 0}, "trainer.check_val_every_n_epoch=0: must be an integer >= 1"),
        ({"accumulate_grad_batches": 0}, "trainer.accumulate_grad_batches=0: must be an integer >= 1"),
        ({"gradient_clip_val": -1.0}, "trainer.gradient_clip_val=-1.0: must be a number >= 0"),
        ({"num_sanity_val_steps": "two"}, "trainer.num_sanity_val_steps='two'"),
        ({"deterministic": "yes"}, "trainer.deterministic='yes': must be true, false, warn or null"),
        ({"min_epochs": 5, "max_epochs": 2}, "trainer.min_epochs=5 > trainer.max_epochs=2"),
    ]:
        with pytest.raises(ValueError, match="Invalid trainer config") as err:
            check_trainer_config(bad)
        assert message in str(err.value)
    with pytest.raises(ValueError) as err:  # every bad key at once
        check_trainer_config({"max_epochs": "x", "log_every_n_steps": 0})
    assert "trainer.max_epochs='x'" in str(err.value) and "trainer.log_every_n_steps=0" in str(err.value)


def test_a_config_value_refused_inside_hydras_instantiate_is_found_as_bad_input():
    """The checks raise ConfigError (still a ValueError); the entry points find it through Hydra's
    InstantiationException to exit 2 without a traceback, and tell it from other errors."""
    import pytest
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from lstm_imdb.utils.errors import ConfigError, config_error_in, refuse

    refuse("model", [])  # nothing to refuse
    with pytest.raises(ValueError, match="Invalid model config:\n  model.a=1: bad\n  model.b=2: bad"):
        refuse("model", ["model.a=1: bad", "model.b=2: bad"])
    with pytest.raises(InstantiationException) as wrapped:
        instantiate({"_target_": "lstm_imdb.models.linear.check_options", "cfg": {"features": "words"}})
    found = config_error_in(wrapped.value)
    assert isinstance(found, ConfigError) and "baseline.features='words'" in str(found)
    with pytest.raises(InstantiationException) as other:  # a bug, not bad input
        instantiate({"_target_": "math.sqrt", "x": "four"})
    assert config_error_in(other.value) is None


def test_optimizer_settings_and_monitored_metrics_are_checked_before_any_data_work():
    """What torch checks only when `configure_optimizers` builds the optimizer and scheduler, and what
    Lightning checks only after the first validation epoch, fail when the model and callbacks are built."""
    from types import SimpleNamespace

    import pytest

    from lstm_imdb.models.optim import check_optimizers
    from lstm_imdb.training.trainer_config import check_monitors

    adam = {"_target_": "torch.optim.Adam", "lr": 1e-3}
    check_optimizers(
        adam, {"_target_": "torch.optim.lr_scheduler.OneCycleLR", "max_lr": 1e-3, "total_steps": "auto"}
    )
    for optimizer, scheduler, message in [
        (
            {**adam, "weight_decay": -1},
            None,
            "model.optimizer: torch.optim.Adam refuses its settings: Invalid weight_decay",
        ),
        ({**adam, "momentum": 0.9}, None, "model.optimizer: torch.optim.Adam refuses its settings"),
        (
            adam,
            {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "mode": "mn"},
            "model.scheduler: torch.optim",
        ),
        (
            adam,
            {"_target_": "torch.nn.Linear"},
            "model.scheduler._target_='torch.nn.Linear': not a torch.optim",
        ),
    ]:
        with pytest.raises(ValueError) as err:
            check_optimizers(optimizer, scheduler)
        assert message in str(err.value), str(err.value)
    # pretrain's settings live under `lm`: its messages name those keys, and lr=0 (which torch takes) is refused
    from lstm_imdb.models.language_model import LanguageModel

    with pytest.raises(
        ValueError, match=r"Invalid lm config:\n  lm.optimizer.lr=0: must be a finite number > 0"
    ):
        LanguageModel(vocab_size=20000, optimizer={"_target_": "torch.optim.AdamW", "lr": 0})
    with pytest.raises(ValueError, match=r"lm.optimizer: torch.optim.AdamW refuses its settings"):
        LanguageModel(
            vocab_size=20000, optimizer={"_target_": "torch.optim.AdamW", "lr": 1e-3, "betas": [2, 0]}
        )

    logged = {"val/loss", "val/acc", "val/acc_best"}
    plateau = {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau"}
    model = SimpleNamespace(
        validation_metrics=logged, hparams={"scheduler": plateau, "scheduler_monitor": "val/loss"}
    )
    callbacks = {
        "ckpt": {"monitor": "val/acc"},
        "stop": {"monitor": "train/loss"},
        "bar": {"refresh_rate": 1},
    }
    check_monitors(callbacks, model)  # validation metrics it logs, and other names left to Lightning
    check_monitors({"ckpt": {"monitor": "val/nope"}}, SimpleNamespace())  # a model that lists none: unchecked
    model.hparams["scheduler_monitor"] = "val/los"
    with pytest.raises(ValueError) as err:
        check_monitors({"ckpt": {"monitor": "val/accc"}, "stop": {"monitor": None}}, model)
    assert "callbacks.ckpt.monitor='val/accc': the model logs no such metric" in str(err.value)
    assert "model.scheduler_monitor='val/los'" in str(err.value) and "val/acc, val/acc_best, val/loss" in str(
        err.value
    )
    model.hparams["scheduler"] = {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR"}  # watches nothing
    check_monitors({}, model)
