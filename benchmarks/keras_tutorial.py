"""The Keras tutorial this project starts from, as its own code runs it: the reference that `make
bench-keras` times beside `python -m lstm_imdb.train experiment=keras_tutorial`.

Runs with TensorFlow/Keras in its own environment (not this project's):

    .venv-keras/bin/python benchmarks/keras_tutorial.py --data DIR --out keras.json

DIR holds train.csv and test.csv (columns text,label), written by `python -m lstm_imdb.tools.bench --keras-python`
from this project's IMDB splits, so both sides see the same reviews. The model and training are the
tutorial's: Keras Tokenizer(num_words=5000) fitted on the training reviews, sequences padded and truncated
to 300 (Keras's default: at the front), Embedding(5000, 10) -> LSTM(128, dropout 0.25, recurrent dropout
0.25) -> Dense(1, sigmoid), Adam, batch 128, 5 epochs, 10 % of the training reviews for validation,
ReduceLROnPlateau(val_loss, patience 2) and EarlyStopping(val_accuracy, min_delta 0.0005, patience 3).
It writes the seconds of each epoch (training + validation, as Keras reports them), the test accuracy and
the time of each phase to --out; with --test-each-epoch, also the test accuracy after each epoch (for the
bench's learning curves), measured in a callback whose seconds are written apart (`test_probe_s`) and kept
out of the epochs'.
"""

import argparse
import csv
import json
import sys
import time

START = time.perf_counter()


def read(path):
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--test-each-epoch", action="store_true")
    args = p.parse_args()

    import numpy as np
    import tensorflow as tf
    from tensorflow import keras

    # Keras 3 dropped keras.preprocessing.text; tf_keras-free fallback: the legacy Tokenizer lives on in TF
    try:
        from keras.src.legacy.preprocessing.text import Tokenizer
    except ImportError:  # Keras 2
        from tensorflow.keras.preprocessing.text import Tokenizer
    pad_sequences = keras.utils.pad_sequences

    keras.utils.set_random_seed(args.seed)
    imported = time.perf_counter()
    x_train_text, y_train = read(f"{args.data}/train.csv")
    x_test_text, y_test = read(f"{args.data}/test.csv")
    tok = Tokenizer(num_words=5000)
    tok.fit_on_texts(x_train_text)
    x_train = pad_sequences(tok.texts_to_sequences(x_train_text), maxlen=300)
    x_test = pad_sequences(tok.texts_to_sequences(x_test_text), maxlen=300)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    prepared = time.perf_counter()

    model = keras.Sequential(
        [
            keras.Input(shape=(300,)),
            keras.layers.Embedding(5000, 10),
            keras.layers.LSTM(128, dropout=0.25, recurrent_dropout=0.25),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epochs.append({"epoch": epoch, "epoch_s": time.perf_counter() - self.t, **(logs or {})})

    class TestEachEpoch(keras.callbacks.Callback):
        """After EpochClock: the weights after each epoch, scored on the test reviews (timed apart)."""

        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            _, acc = self.model.evaluate(x_test, y_test, batch_size=128, verbose=0)
            test_curve.append(float(acc))
            probe_s.append(time.perf_counter() - start)

    epochs, test_curve, probe_s = [], [], []
    callbacks = [
        EpochClock(),
        *([TestEachEpoch()] if args.test_each_epoch else []),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0.0005, patience=3),
    ]
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=args.epochs,
        validation_split=0.1,
        callbacks=callbacks,
        verbose=2,
    )
    fitted = time.perf_counter()
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    done = time.perf_counter()
    out = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "epochs": [{k: float(v) for k, v in e.items()} for e in epochs],
        "val_accuracy": [float(e["val_accuracy"]) for e in epochs],
        "test_accuracy": float(test_acc),
        "test_loss": float(test_loss),
        "test_accuracy_by_epoch": test_curve,
        "test_probe_s": sum(probe_s),
        "seed": args.seed,
        "time": {
            "import_s": imported - START,
            "prepare_s": prepared - imported,
            "fit_s": fitted - prepared,
            "test_s": done - fitted,
            "in_process_s": done - START,
        },
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out["time"]), "test_accuracy", out["test_accuracy"])


if __name__ == "__main__":
    main()
