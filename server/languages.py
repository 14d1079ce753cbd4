"""Languages content is taught in (not the interface's four): one list for sessions and the library.

Shown translated wherever a language is a filter value or a label, so "pt" reads
"Portugais" on a French page rather than the code (found on a walk in fr/pt/ar).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

#: Languages sessions and materials are commonly in (content language, not the interface's).
CONTENT_LANGUAGES = [
    ("en", _("English")), ("fr", _("French")), ("pt", _("Portuguese")), ("es", _("Spanish")),
    ("de", _("German")), ("ar", _("Arabic")), ("sw", _("Swahili")), ("ha", _("Hausa")),
    ("yo", _("Yoruba")), ("ig", _("Igbo")), ("hi", _("Hindi")), ("ja", _("Japanese")),
    ("zh", _("Chinese")), ("ru", _("Russian")), ("tw", _("Twi")), ("ny", _("Chichewa")),
]
LANGUAGE_NAMES = dict(CONTENT_LANGUAGES)


def content_language_name(code: str) -> str:
    """The language's name in the active interface language; the code if it is not listed."""
    return str(LANGUAGE_NAMES.get(code, code))
