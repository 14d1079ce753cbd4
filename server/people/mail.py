"""E-mail to people in their own interface language.

A message is written while someone else's request is active (the host who cancels, the
supervisor who signs), so Django's active language is the sender's. Each recipient's
copy is composed under their own `preferred_language` instead; people who never chose
one get the site's default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.mail import send_mass_mail
from django.utils import translation

from .models import User

#: (subject, body), composed for one recipient with their language active.
Composer = Callable[[User], tuple[str, str]]
MassMessage = tuple[str, str, str, list[str]]


def user_language(user: User) -> str:
    """The language to write to `user` in (one of settings.LANGUAGES)."""
    wanted = (user.preferred_language or "").lower()
    known = {code for code, _name in settings.LANGUAGES}
    return wanted if wanted in known else settings.LANGUAGE_CODE


def messages_in_their_language(recipients: Iterable[User], compose: Composer) -> list[MassMessage]:
    """One message per recipient with an address, each in that recipient's language."""
    messages: list[MassMessage] = []
    for user in recipients:
        if not user.email:
            continue
        with translation.override(user_language(user)):
            subject, body = compose(user)
            messages.append((str(subject), str(body), settings.DEFAULT_FROM_EMAIL, [user.email]))
    return messages


def send_in_their_language(recipients: Iterable[User], compose: Composer) -> int:
    """Compose now (inside the caller's transaction, from its data) and send; returns the count."""
    messages = messages_in_their_language(recipients, compose)
    return send_mass_mail(messages) if messages else 0
