"""Exceptions of the optimizer package.

Each subclasses the built-in it means and carries a message that says what is wrong, the offending
value, what is allowed and how to fix it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A plant configuration file is unreadable or invalid.

    ``problems`` lists one ``(key, message)`` pair per invalid field so a caller can show them all.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {key}: {msg}" for key, msg in problems)
        super().__init__(f"invalid plant config {path}:\n{lines}")


class DataFileError(ValueError):
    """A heat-data file cannot be read at all (missing, not CSV/Parquet, no heat_id column...)."""


class UnknownGradeError(KeyError):
    """A grade name is not in the plant configuration."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""
