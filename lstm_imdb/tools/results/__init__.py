"""`python -m lstm_imdb.tools.results`: the docs' results, generated from run records (see __main__.py)."""
