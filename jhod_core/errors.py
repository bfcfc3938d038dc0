"""Errors that carry a message meant for the user (the CLI prints them without a traceback)."""


class JHODError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class MeshError(JHODError):
    """A mesh file or array that cannot be used (unreadable, empty, NaN, absurd size...)."""


class HandModelError(JHODError):
    """A hand model file that is missing or does not follow the MANO file contract."""
