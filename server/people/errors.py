"""Errors that services raise when a person may not do something, with a code and a message.

Views and consumers turn these into a 403/400 or a WebSocket error without knowing the
rule that was broken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class _RefusalWithMessage(Exception):
    """A refusal whose message may be lazy (gettext_lazy).

    One refusal can be rendered for many people, each in their language (batched poll
    votes are checked at once and answered on each voter's socket): `message` renders the
    text in the language active when it is read, not when it was raised.
    """

    def __init__(self, message: str | _StrPromise, code: str) -> None:
        super().__init__(message)
        self.code = code
        self._message = message

    @property
    def message(self) -> str:
        return str(self._message)


class PermissionRefused(_RefusalWithMessage):
    """The acting user may not do this. `code` is stable; `message` is for people."""

    def __init__(self, message: str | _StrPromise, code: str = "forbidden") -> None:
        super().__init__(message, code)


class InvalidRequest(_RefusalWithMessage):
    """The request itself is wrong (bad state, bad value), whoever asks."""

    def __init__(self, message: str | _StrPromise, code: str = "invalid") -> None:
        super().__init__(message, code)
