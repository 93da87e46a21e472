"""Maintainer tools, apart from the library (which never imports them): the benchmark
(`python -m lstm_imdb.tools.bench`) and the docs' results generated from run records
(`python -m lstm_imdb.tools.results`)."""
