"""Exceptions with messages written for the person at the terminal."""

from __future__ import annotations

import difflib


class RppgbenchError(Exception):
    """Base class: a problem the user can fix, reported without a traceback by the CLI."""

    exit_code = 1


class UnknownNameError(RppgbenchError, KeyError):
    """A method, dataset or protocol name that no plugin registered."""

    exit_code = 2

    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, valid
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(
            f"unknown {kind} {name!r}{hint}; valid {kind}s: {', '.join(valid) or '(none installed)'}"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ConfigError(RppgbenchError):
    """A protocol file, parameter or option is malformed."""

    exit_code = 2


class DataError(RppgbenchError):
    """A dataset file is missing or malformed; the message names the file and the problem."""


class DamagedRunError(DataError):
    """A run folder that is incomplete, interrupted or altered; its numbers must not be used."""

    exit_code = 2


class SignalError(RppgbenchError, ValueError):
    """A signal cannot be processed (too short, constant, NaN, ...)."""


class StorageError(RppgbenchError):
    """A folder or file cannot be written or read back (permission, read-only, full disk); names the path."""

    @classmethod
    def from_os(cls, path: object, exc: OSError, doing: str = "cannot write") -> StorageError:
        """One line naming `path` and the operating system's reason."""
        reason = exc.strerror or str(exc) or type(exc).__name__
        return cls(f"{path}: {doing} ({reason})")
