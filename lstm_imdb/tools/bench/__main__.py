"""`python -m lstm_imdb.tools.bench`."""

from lstm_imdb.tools.bench.run import main

if __name__ == "__main__":
    main()
