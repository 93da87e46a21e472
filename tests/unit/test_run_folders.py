"""The run folder, read in one place: `RunFolder`, `find_runs`, and what a `ckpt_path=` names (a file, a
list, a run folder, a sweep folder, `last` to resume), for evaluate, predict and resuming alike."""

from __future__ import annotations

import json
import os

import pytest
import torch
from omegaconf import OmegaConf

from lstm_imdb.inference.resolve import checkpoint_paths, resume_path
from lstm_imdb.runs.folder import RunFolder, find_runs
from lstm_imdb.utils.checkpoint_file import CheckpointError


def make_run(folder, seed=1, acc=0.8, last_mtime=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(f"seed: {seed}\n")
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


def test_resume_last_takes_the_newest_last_checkpoint_and_refuses_a_corrupt_one(tmp_path):
    logs = tmp_path / "logs"
    make_run(logs / "train" / "runs" / "old", last_mtime=1_000)
    new = make_run(logs / "train" / "runs" / "new", last_mtime=2_000)
    assert resume_path("last", logs, "train") == str(new / "checkpoints" / "last.ckpt")
    assert resume_path(None, logs, "train") is None
    with pytest.raises(CheckpointError, match="no last.ckpt under"):
        resume_path("last", logs, "pretrain")
    (new / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        resume_path("last", logs, "train")
