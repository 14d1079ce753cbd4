"""`makemessages` that also extracts the front end's `t('…')` strings.

The room and library modules translate through a short alias,
`const t = (text) => window.gettext(text)`, which xgettext does not know; without this
their strings never reach djangojs.po and stay English in every language. It also never
reads node_modules/ (test tools such as axe-core live there) or the virtualenv.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.makemessages import Command as DjangoMakeMessages


class Command(DjangoMakeMessages):
    def handle(self, *args: Any, **options: Any) -> None:
        options["ignore_patterns"] = [*(options.get("ignore_patterns") or []), "node_modules", ".venv", "var"]
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*DjangoMakeMessages.xgettext_options, "--keyword=t"]
        super().handle(*args, **options)
