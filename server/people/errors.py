"""Errors that services raise when a person may not do something, with a code and a message.

Views and consumers turn these into a 403/400 or a WebSocket error without knowing the
rule that was broken.
"""

from __future__ import annotations


class PermissionRefused(Exception):
    """The acting user may not do this. `code` is stable; `message` is for people."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidRequest(Exception):
    """The request itself is wrong (bad state, bad value), whoever asks."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
