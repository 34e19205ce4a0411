"""The package's errors: one base class for input a user can fix, and a subclass for each kind
of input that a caller needs to tell apart.

Every one of them is raised with one line that names what was wrong and what was expected;
the command line prints that line as it is (``nasrl.cli``) and a workflow job stops on it.
They subclass ``ValueError``, so code that treats a bad value as a ``ValueError`` catches them
too. Failures of a child's training are not errors of this kind: a child records them in its
metrics.json and the search goes on (``nasrl.training.child``).
"""

from __future__ import annotations


class NasrlError(ValueError):
    """Input that cannot be used as it is: a file, a setting, an argument."""


class ArchitectureError(NasrlError):
    """An architecture (or search-space spec) is malformed or lies outside its space."""


class SettingsError(NasrlError):
    """A config value, section or settings file is wrong."""


class StateError(NasrlError):
    """A saved search state (a controller state file) is missing, unreadable or of another search."""


class TableError(NasrlError):
    """A results table (a surrogate's or a benchmark's) is missing or lacks what is asked of it."""


class ResultsError(NasrlError):
    """A results folder or file asked for does not exist or holds no usable result."""
