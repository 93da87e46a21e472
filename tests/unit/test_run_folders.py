"""The run folder, read in one place: `RunFolder`, `find_runs`, and what a `ckpt_path=` names (a file, a
list, a run folder, a sweep folder, `last` to resume), for evaluate, predict and resuming alike."""

from __future__ import annotations

import json
import os

import pytest
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from lstm_imdb.inference.resolve import checkpoint_paths
from lstm_imdb.runs.folder import RunFolder, find_runs, mark_failed, remove_unstarted_run
from lstm_imdb.training.resume import resume_checkpoint
from lstm_imdb.utils.checkpoint_file import CheckpointError


def make_run(folder, seed=1, acc=0.8, last_mtime=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nmodel: {{hidden_size: 8}}\n")
    (folder / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n- model.hidden_size=8\n")
    (folder / "test_metrics.json").write_text(json.dumps({"test/acc": acc}))
    (folder / "history.json").write_text(json.dumps([{"epoch": 0, "val/acc": acc}]))
    (folder / "checkpoints").mkdir()
    for name in ("best.ckpt", "last.ckpt"):
        torch.save({"state_dict": {}}, folder / "checkpoints" / name)
    if last_mtime is not None:
        os.utime(folder / "checkpoints" / "last.ckpt", (last_mtime, last_mtime))
    return folder


def test_a_run_folder_reads_what_the_run_wrote_and_nothing_for_what_it_did_not(tmp_path):
    run = RunFolder(make_run(tmp_path / "a", seed=7, acc=0.9))
    assert run.seed == 7 and run.metrics() == {"test/acc": 0.9} and run.history()[0]["val/acc"] == 0.9
    assert run.overrides() == ["seed=7", "model.hidden_size=8"] and run.is_run()
    (run.path / "test_metrics.json").write_text("{truncated")  # a run killed while writing
    empty = RunFolder(tmp_path / "never_ran")
    assert run.metrics() == {} and empty.history() == [] and empty.environment() == {} and not empty.is_run()


def test_find_runs_and_checkpoint_paths_take_a_run_or_a_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    runs = [make_run(sweep / str(i), seed=i) for i in range(3)]
    (sweep / "ensemble").mkdir()  # no .hydra: the sweep's ensemble report is not a run
    assert [r.path for r in find_runs([sweep])] == runs
    assert [r.path for r in find_runs([runs[1]])] == [runs[1]]
    best = [r / "checkpoints" / "best.ckpt" for r in runs]
    assert checkpoint_paths(str(sweep)) == best
    assert checkpoint_paths(str(runs[2])) == [best[2]]
    assert checkpoint_paths(OmegaConf.create([str(best[0]), str(runs[1])])) == [best[0], best[1]]
    with pytest.raises(CheckpointError, match="no checkpoints/best.ckpt"):
        checkpoint_paths(str(sweep / "ensemble"))


def test_resume_last_takes_the_newest_run_of_this_config_and_refuses_a_corrupt_one(tmp_path):
    logs = tmp_path / "logs"
    make_run(logs / "train" / "runs" / "old", last_mtime=1_000)
    new = make_run(logs / "train" / "runs" / "new", last_mtime=2_000)
    other = make_run(logs / "train" / "runs" / "other", last_mtime=3_000)  # the newest, another model
    (other / ".hydra" / "config.yaml").write_text("seed: 1\nmodel: {hidden_size: 64}\n")

    def cfg(ckpt_path, task="train", hidden=8):
        return OmegaConf.create(
            {
                "ckpt_path": ckpt_path,
                "task_name": task,
                "paths": {"log_dir": str(logs)},
                "model": {"hidden_size": hidden},
            }
        )

    assert resume_checkpoint(cfg("last"))[0] == new / "checkpoints" / "last.ckpt"
    assert resume_checkpoint(cfg("last", hidden=64))[0] == other / "checkpoints" / "last.ckpt"
    assert resume_checkpoint(cfg(None)) is None
    with pytest.raises(CheckpointError, match=r"differs in model.hidden_size: 64 -> 32"):
        resume_checkpoint(cfg("last", hidden=32))
    with pytest.raises(CheckpointError, match="no last.ckpt under"):
        resume_checkpoint(cfg("last", task="pretrain"))
    (new / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        resume_checkpoint(cfg("last"))


def test_only_a_run_folder_with_nothing_but_its_config_and_logs_is_removed(tmp_path):
    bare = tmp_path / "bare"
    (bare / ".hydra").mkdir(parents=True)
    (bare / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (bare / "train.log").write_text("error\n")
    kept = make_run(tmp_path / "kept")
    assert not remove_unstarted_run(kept) and kept.is_dir()
    assert not remove_unstarted_run(tmp_path)  # not a run folder
    assert remove_unstarted_run(bare) and not bare.exists()


def test_run_folders_are_named_by_their_experiment_and_the_overrides_that_change_them():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lstm_imdb.runs.names import MAX_CHARS, describe

    overrides = ["model.hidden_size=64", "seed=1", "data.acl_dir=/tmp/a", "hydra.run.dir=x", "ckpt_path=last"]
    name = describe("best_single", overrides)
    assert name == "best_single_hidden_size-64_seed-1"
    assert describe(None, ["model=bilstm", "'trainer.precision=${fast_precision:auto}'"]) == (
        "default_model-bilstm_precision-fast_precision-auto"  # safe in a file name: no $ { } : / = ,
    )
    # a group choice below another group names one folder, not a folder inside another
    assert describe(None, ["model/scheduler=onecycle", "+model/optimizer@opt=adamw"]) == (
        "default_scheduler-onecycle_optimizer-opt-adamw"
    )
    many = describe(None, [f"model.key{i}=0.123456789" for i in range(20)])
    assert len(many) <= MAX_CHARS + 4 and many.endswith("_+16")  # what is not shown is counted
    # a folder of that name passes unquoted in a list of checkpoints (a comma would split it)
    [parsed] = OverridesParser.create().parse_overrides(
        [f"ckpt_path=[logs/0_{many}/b.ckpt,logs/{name}/b.ckpt]"]
    )
    assert parsed.value() == [f"logs/0_{many}/b.ckpt", f"logs/{name}/b.ckpt"]


def test_a_failed_run_is_renamed_once_by_rank_zero_only(tmp_path, monkeypatch):
    run = make_run(tmp_path / "2026_x")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    assert mark_failed(run) is None and run.is_dir()
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    failed = mark_failed(run)
    assert failed == tmp_path / "2026_x_FAILED" and (failed / "checkpoints" / "last.ckpt").is_file()
    assert mark_failed(failed) is None and mark_failed(tmp_path) is None


def test_a_sweep_names_its_jobs_by_the_keys_it_varies(tmp_path):
    from lstm_imdb.runs.names import swept_keys

    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [data.num_words=60, 'model.hidden_size=8,16', 'seed=range(1,3)']\n"
        "  sweeper:\n    params: {model.optimizer.lr: 'interval(0.001, 0.1)'}\n"
    )
    assert swept_keys(tmp_path / "multirun.yaml") == {"model.hidden_size", "seed", "model.optimizer.lr"}
    assert swept_keys(tmp_path / "missing.yaml") == set()  # then every override names the job
