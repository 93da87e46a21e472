"""Word-level vocabulary with the `tokenizers` library (fast, Rust, saved as JSON).

Normalization follows Keras's `Tokenizer` defaults, which the tutorial used: HTML `<br />` removed,
lowercased, Keras's punctuation set replaced by spaces (apostrophes kept), split on white space.
Differences from Keras, on purpose: ids 0 and 1 are padding and unknown (Keras drops unknown words), so
`num_words` counts both specials (num_words=5000 keeps the 4,998 most frequent words).
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

from lstm_imdb.utils.errors import ConfigError

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
# Bump when normalization changes: token caches are keyed on it.
TOKENIZER_VERSION = 1
_KERAS_FILTERS = r"""[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n]"""


def new_tokenizer() -> Tokenizer:
    tok = Tokenizer(WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"<br\s*/?>"), " "),
            normalizers.Lowercase(),
            normalizers.Replace(Regex(_KERAS_FILTERS), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


def fit_tokenizer(texts, num_words: int) -> Tokenizer:
    """Vocabulary of the `num_words - 2` most frequent words of `texts` (plus PAD=0 and UNK=1)."""
    if num_words < 2:
        raise ConfigError(
            f"data.num_words must be >= 2 (padding and unknown take ids 0 and 1), got {num_words}"
        )
    tok = new_tokenizer()
    trainer = WordLevelTrainer(vocab_size=num_words, special_tokens=[PAD, UNK], show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def encode(tok: Tokenizer, texts: list[str], batch_size: int = 4096) -> list[list[int]]:
    """Token ids of every text (no truncation or padding: that happens per batch)."""
    out: list[list[int]] = []
    for i in range(0, len(texts), batch_size):
        out.extend(e.ids for e in tok.encode_batch(texts[i : i + batch_size], add_special_tokens=False))
    return out
