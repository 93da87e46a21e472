"""A trained model (or ensemble) as files that need no lstm_imdb: an ONNX graph scoring token ids, the
weights as safetensors, the vocabulary, config.json and a model card (lstm_imdb/inference/export.py).

    python -m lstm_imdb.export ckpt_path=logs/train/runs/<run>              # its best.ckpt -> <run>/export/
    python -m lstm_imdb.export ckpt_path=logs/train/multiruns/<sweep>       # the ensemble -> <sweep>/export/
    python -m lstm_imdb.export ckpt_path=path/to/best.ckpt output_dir=exports/mine overwrite=true

The files are written to a temporary folder beside `output_dir` and moved in place once the graph's scores
have been checked against predict's: an export is whole or absent.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lstm_imdb.cli import entry
from lstm_imdb.inference import export
from lstm_imdb.inference.checkpoint import load_model

log = logging.getLogger(__name__)


def output_folder(ckpt_path, output_dir, overwrite: bool) -> Path:
    """Where the export goes (checked before anything loads): `output_dir`, or the folder `ckpt_path`
    names (a run or a sweep; a checkpoint's run) + /export."""
    if output_dir is None:
        if OmegaConf.is_list(ckpt_path):
            raise ValueError("ckpt_path is a list of checkpoints: say where the export goes with output_dir=")
        given = Path(str(ckpt_path))
        folder = given if given.is_dir() else given.parent
        output_dir = (folder.parent if folder.name == "checkpoints" else folder) / "export"
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output_dir={str(out)!r} is a file: name a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(
            f"output_dir={str(out)!r} already holds files (an earlier export?): add overwrite=true to replace "
            "them, or name another folder"
        )
    return out


@entry("export", usage_errors=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> Path:
    out = output_folder(cfg.ckpt_path, cfg.output_dir, cfg.overwrite)
    loaded, paths = load_model(cfg.ckpt_path)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        diff, checked = export.write_export(loaded, paths, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    sizes = ", ".join(f"{f} ({(out / f).stat().st_size / 1e6:.1f} MB)" for f in export.FILES)
    log.info("Exported %d checkpoint(s) to %s: %s", len(paths), out, sizes)
    log.info(
        "The ONNX graph scores as predict does (largest difference %.1e on %d reviews); how to use it: %s",
        diff,
        checked,
        out / export.CARD,
    )
    return out


if __name__ == "__main__":
    main()
