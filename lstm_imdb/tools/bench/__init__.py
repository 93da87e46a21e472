"""`python -m lstm_imdb.tools.bench`: the benchmark of the tutorial model (see __main__.py)."""
