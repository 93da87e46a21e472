"""`python -m lstm_imdb.tools.results`."""

import sys

from lstm_imdb.tools.results.build import main

if __name__ == "__main__":
    sys.exit(main())
