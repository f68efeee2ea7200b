"""Exceptions raised by jwinteract.

Every error says what is wrong and, where it can, what to do about it: the
file, extension, keyword, step or parameter at fault is named in the message.
"""

__all__ = [
    "JwinteractError",
    "InputError",
    "ParameterError",
    "ReferenceFileError",
    "StepNotImplementedError",
    "UnknownStepError",
]


class JwinteractError(Exception):
    """Base class of every error jwinteract raises on purpose."""


class InputError(JwinteractError, ValueError):
    """The input file or model cannot be used (wrong kind, shape, truncated...)."""


class ParameterError(JwinteractError, ValueError):
    """A step parameter name or value is not valid."""


class UnknownStepError(JwinteractError, KeyError):
    """A step name is not in the registry or not in the session's recipe."""

    def __str__(self):  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ReferenceFileError(JwinteractError, ValueError):
    """A reference file cannot be found or does not match the science data."""


class StepNotImplementedError(JwinteractError, NotImplementedError):
    """A recipe step that jwinteract does not implement yet was reached."""
