"""Importing the package and every module does nothing but define things: no allocator setting, no config
resolvers, no plotting backend; the commands' start-up (`lstm_imdb.cli.startup()`) does the first two."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import matplotlib
backend = matplotlib.rcParams._get_backend_or_none()  # None until something picks one
import lstm_imdb
names = [m.name for m in pkgutil.walk_packages(lstm_imdb.__path__, "lstm_imdb.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
from omegaconf import OmegaConf
from lstm_imdb.utils import allocator
print(len(names), OmegaConf.has_resolver("fast_precision"), allocator.tuned,
      matplotlib.rcParams._get_backend_or_none() == backend)
from lstm_imdb.cli import startup
startup()
print(OmegaConf.has_resolver("fast_precision"), OmegaConf.has_resolver("lstm_imdb_root"))
"""


def test_importing_every_module_has_no_side_effect_and_startup_does_the_set_up():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    imported, resolvers, tuned, same_backend = out.splitlines()[0].split()
    assert int(imported) > 50 and resolvers == "False" and tuned == "False" and same_backend == "True"
    assert out.splitlines()[1] == "True True"
