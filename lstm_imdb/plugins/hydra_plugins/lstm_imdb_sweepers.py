"""lstm_imdb's Hydra plugins. Hydra instantiates sweepers only from the `hydra_plugins` namespace package,
which it scans at every start-up: `cli.startup` puts lstm_imdb/plugins/ on `sys.path`, so this folder joins
that namespace in an editable install and a wheel alike. The work is in lstm_imdb/training/optuna_sweeper.py,
imported (with Optuna) only when a search starts."""

from __future__ import annotations

from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    """`hydra/sweeper=optuna` (conf/hydra/sweeper/optuna.yaml): an Optuna search by ask-and-tell."""

    def __init__(self, **config) -> None:
        from lstm_imdb.training.optuna_sweeper import OptunaSearch

        self.search = OptunaSearch(**config)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.search.sweep(arguments)
