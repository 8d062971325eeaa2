"""A small exception hierarchy.

``UserInputError`` and its subclasses are mistakes in what the user gave us (a scenario
file, a data file, a command-line option). The CLI prints them as one paragraph and
exits with status 2, without a traceback. Everything else that goes wrong while a run
is under way is a ``RunError`` (exit status 1).
"""

from __future__ import annotations

from pathlib import Path


class ParallelError(Exception):
    """Base class of every error this package raises on purpose."""


class UserInputError(ParallelError):
    """Bad input from the user: the CLI exits with status 2 and prints no traceback."""


class ScenarioError(UserInputError):
    """A scenario file is malformed or invalid.

    The message names the file, the line, the field path and what is allowed.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.detail = message
        where = []
        if self.file:
            where.append(self.file + (f":{line}" if line else ""))
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataError(UserInputError):
    """An observed data file is missing, unreadable or does not fit the schema."""


class PathEscapeError(UserInputError):
    """An output path would leave the run folder."""


class RegistryError(UserInputError, KeyError):
    """An unknown name was looked up in a registry (world, executor, objective...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RunError(ParallelError):
    """A failure while a run is under way (exit status 1)."""
