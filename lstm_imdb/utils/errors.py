"""Bad configuration values. Every check of a config group raises `ConfigError`, a ValueError, so that
the entry points can tell a refused value from a bug: they exit 2 with the message and no traceback, even
when Hydra's `instantiate` has wrapped it (cli.py)."""

from __future__ import annotations

from collections.abc import Sequence


class ConfigError(ValueError):
    """A config value refused before any work, with what the key takes."""


def refuse(section: str, problems: Sequence[str]) -> None:
    """Raise one ConfigError that names every problem of a config group, if there is any."""
    if problems:
        raise ConfigError(f"Invalid {section} config:\n  " + "\n  ".join(problems))


def config_error_in(err: BaseException) -> ConfigError | None:
    """The ConfigError that caused `err` (itself, or one in its chain of causes), else None."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ConfigError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
