"""De-identification of consult free text (HIPAA Safe Harbor, the identifiers we can see).

Safe Harbor (45 CFR 164.514(b)(2)) lists 18 kinds of identifier. Free text cannot be
de-identified by patterns alone, so this module does two things and no more:

1. `deidentify_text` replaces what the patterns and heuristics below recognise with a
   bracketed placeholder naming the kind (`[NAME]`, `[DATE]`…), keeping the year of
   dates and turning ages over 89 into "90 or older";
2. the caller (the teaching-case conversion) lists every free-text field for a person to
   read, and requires the supervisor's explicit confirmation before anything is shared.

Photos (identifier 17, full-face photographs) cannot be checked here: each photo needs a
person's yes before it goes into a case.

Nothing here logs the text it inspects.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# The 18 Safe Harbor identifiers, by the code this module uses for each.
SAFE_HARBOR_KINDS: dict[str, str] = {
    "NAME": "Names",
    "LOCATION": "Geographic subdivisions smaller than a state",
    "DATE": "Dates (except year) and ages over 89",
    "PHONE": "Telephone numbers",
    "FAX": "Fax numbers",
    "EMAIL": "E-mail addresses",
    "NATIONAL_ID": "Social security or national identity numbers",
    "MRN": "Medical record numbers",
    "HEALTH_PLAN": "Health plan beneficiary numbers",
    "ACCOUNT": "Account numbers",
    "LICENCE": "Certificate and licence numbers",
    "VEHICLE": "Vehicle identifiers and licence plates",
    "DEVICE": "Device identifiers and serial numbers",
    "URL": "Web addresses (URLs)",
    "IP": "IP addresses",
    "BIOMETRIC": "Biometric identifiers",
    "PHOTO": "Full-face photographs",
    "NUMBER": "Any other unique identifying number or code",
}

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|"
    r"janeiro|fevereiro|mar[çc]o|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro)"
)
_LABEL_GAP = r"[\s:#.\-–]*(?:(?:no|nr|number|num|n°|nº)\.?[\s:#.\-]*)?"
# A token with at least one digit ("case of malaria" is not an identifier; "case 12/345" is).
_ID_TOKEN = r"((?=[A-Z0-9\-/.]*\d)[A-Z0-9][A-Z0-9\-/.]*[A-Z0-9](?:\s\d[A-Z0-9]*)?)"


def _labelled(labels: str) -> re.Pattern[str]:
    """A label such as 'MRN' followed by an identifier token: only the token is replaced."""
    return re.compile(r"\b(?:" + labels + r")" + _LABEL_GAP + _ID_TOKEN, re.IGNORECASE)


# Order matters: specific labelled identifiers first, generic numbers last.
_LABELLED: list[tuple[str, re.Pattern[str]]] = [
    ("MRN", _labelled(r"mrn|medical record|hospital (?:number|no|id)|patient id|file|chart|reg(?:istration)?|inpatient|outpatient|ip|op|case")),
    ("HEALTH_PLAN", _labelled(r"health plan|insurance|insurer|policy|member(?:ship)? id|beneficiary|nhis|medicaid|medicare|nhif|scheme")),
    ("ACCOUNT", _labelled(r"account|acct|a/c|invoice|bill(?:ing)?")),
    ("LICENCE", _labelled(r"licen[cs]e|driver'?s?|dl|certificate|permit|passport")),
    ("NATIONAL_ID", _labelled(r"ssn|social security|national id(?:entity)?|nin|id card|identity card|voter(?:'s)? card|cni|bi|nid")),
    ("VEHICLE", _labelled(r"plate|number plate|licen[cs]e plate|vehicle|vin|registration plate")),
    ("DEVICE", _labelled(r"serial|s/n|device(?: id)?|imei|implant|pacemaker|model")),
    ("FAX", re.compile(r"\bfax\b[\s:#.]*(\+?\d[\d\s().\-]{5,}\d)", re.IGNORECASE)),
]

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("VEHICLE", re.compile(r"\b(?:number plate|licen[cs]e plate|plate|registration)[\s:#.]*([A-Z]{1,3}[\s\-]?\d{1,5}[\s\-]?[A-Z]{0,3})\b", re.IGNORECASE)),
    ("EMAIL", re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b")),
    ("URL", re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"']+|\b[\w\-]+\.(?:com|org|net|edu|gov|info|io|mw|gh|ng|za|ke|uk|de|fr)(?:/[^\s<>\"']*)?\b", re.IGNORECASE)),
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
    ("IP", re.compile(r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b", re.IGNORECASE)),
    ("NATIONAL_ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("VEHICLE", re.compile(r"\b[A-HJ-NPR-Z0-9]{17}\b")),
    ("DEVICE", re.compile(r"\b(?:imei[\s:#]*)?\d{15}\b", re.IGNORECASE)),
    ("PHONE", re.compile(
        r"(?<![\w/])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]\d{2,4}){2,4}(?![\w/])"
        r"|(?<![\w/])\+\d{8,14}\b|(?<![\w/.])0\d{8,10}\b"
    )),
    ("BIOMETRIC", re.compile(r"\b(?:finger ?prints?|retina(?:l)? scans?|iris scans?|voice ?prints?|face ?prints?|dna profile)\b[^.;\n]*", re.IGNORECASE)),
]

_DATES: list[re.Pattern[str]] = [
    # 2024-03-12, 2024/3/12
    re.compile(r"\b(?P<year>(?:19|20)\d{2})[\-/.](?:0?[1-9]|1[0-2])[\-/.](?:0?[1-9]|[12]\d|3[01])\b"),
    # 12/03/2024, 3-12-24
    re.compile(r"\b(?:0?[1-9]|[12]\d|3[01])[\-/.](?:0?[1-9]|[12]\d|3[01])[\-/.](?P<year>(?:19|20)?\d{2})\b"),
    # 12 March 2024, 12th of March, 1er mars 2024
    re.compile(r"\b(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th|er)?(?:\s+of|\s+de)?\s+" + _MONTHS + r"\.?(?:,?\s+(?:de\s+)?(?P<year>(?:19|20)\d{2}))?\b", re.IGNORECASE),
    # March 12, 2024 / March 12
    re.compile(r"\b" + _MONTHS + r"\.?\s+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?(?:,?\s+(?P<year>(?:19|20)\d{2}))?\b", re.IGNORECASE),
    # 12/03 (day and month only)
    re.compile(r"\b(?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|1[0-2])\b(?!/)(?!\d)"),
]

# Ages over 89 are identifiers under Safe Harbor (they become "90 or older").
_OLD_AGE = re.compile(
    r"\b(?:(?:aged?|age)\s*:?\s*(?P<a>9\d|1[0-2]\d)|(?P<b>9\d|1[0-2]\d)[\s\-]*(?:years?|yrs?|y/?o|-year-old|ans|anos))\b",
    re.IGNORECASE,
)

_HONORIFIC = re.compile(
    r"\b(?i:mr|mrs|ms|miss|mx|dr|prof|sr|sra|mme|mlle|chief|pastor|rev|hon|alhaji|madam|mama|baba|auntie|uncle)\.?\s+"
    r"(?:[A-Z][\w'\-]+)(?:\s+[A-Z][\w'\-]+){0,2}"
)
_NAME_PHRASES = re.compile(
    r"\b(?:named|called|name is|name:|patient:|pt:|mother:|father:|guardian:|next of kin:?|nok:?|son of|daughter of|wife of|husband of|"
    r"s'appelle|nom\s*:|chama-se|nome\s*:)\s*((?:[A-Z][\w'\-]+)(?:\s+[A-Z][\w'\-]+){0,2})",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][\w'\-]*\s+){1,4}(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|crescent|boulevard|blvd|rue|rua|avenida)\b\.?"
    r"|\bp\.?\s?o\.?\s?box\s*\d+\b"
    r"|\bplot\s*(?:no\.?\s*)?\d+\w*\b",
    re.IGNORECASE,
)
_PLACE_PHRASES = re.compile(
    r"\b(?i:village|town|township|district|ward|county|suburb|neighbourhood|neighborhood|area|compound|estate|street|road|market|"
    r"lives in|living in|resides in|resident of|comes from|from the village of|from)\s+(?i:of\s+)?((?:[A-Z][\w'\-]+)(?:\s+[A-Z][\w'\-]+){0,2})"
    r"|\b((?:[A-Z][\w'\-]+\s+){1,2})(?i:village|town|township|district|trading centre|market)\b",
)
_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|\d{5}(?:-\d{4})?)\b")
# Anything else that looks like a code: six or more digits, or letters mixed with four or more digits.
_OTHER_NUMBER = re.compile(r"\b(?=[A-Z0-9\-]*\d{4})(?=[A-Z0-9\-]*[A-Z])[A-Z0-9][A-Z0-9\-]{4,}\b|\b\d[\d\-]{5,}\d\b")

# Clinical words that the capitalised-name heuristics must not take for names or places.
_NOT_NAMES = {
    "The", "He", "She", "They", "Patient", "Pt", "Hb", "Bp", "Hr", "Rr", "Spo2", "Temp", "History", "Plan",
    "Assessment", "Subjective", "Objective", "Malaria", "Tb", "Hiv", "Covid", "Examination", "Exam", "Monday",
    "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Outpatient", "Casualty", "Ward",
}


@dataclass(frozen=True)
class Finding:
    """One recognised identifier: its kind and where it was in the original text."""

    kind: str
    start: int
    end: int


@dataclass
class DeidentifiedText:
    """The text with identifiers replaced, and what was replaced (kinds and positions)."""

    text: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def kinds(self) -> Counter[str]:
        return Counter(finding.kind for finding in self.findings)


def _spans(text: str, known_names: Iterable[str], known_places: Iterable[str]) -> list[tuple[int, int, str, str]]:
    """Every (start, end, kind, replacement) found, possibly overlapping."""
    spans: list[tuple[int, int, str, str]] = []

    def add(start: int, end: int, kind: str, replacement: str | None = None) -> None:
        if end > start:
            spans.append((start, end, kind, replacement if replacement is not None else f"[{kind}]"))

    for kind, pattern in _LABELLED:
        for match in pattern.finditer(text):
            add(match.start(1), match.end(1), kind)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            add(match.start(), match.end(), kind)
    for pattern in _DATES:
        for match in pattern.finditer(text):
            year = match.groupdict().get("year")
            replacement = f"[DATE {year}]" if year and len(year) == 4 else "[DATE]"
            add(match.start(), match.end(), "DATE", replacement)
    for match in _OLD_AGE.finditer(text):
        add(match.start(), match.end(), "DATE", "90 or older")
    for match in _HONORIFIC.finditer(text):
        add(match.start(), match.end(), "NAME")
    for match in _NAME_PHRASES.finditer(text):
        words = match.group(1).split()
        if words and words[0] not in _NOT_NAMES:
            add(match.start(1), match.end(1), "NAME")
    for match in _ADDRESS.finditer(text):
        add(match.start(), match.end(), "LOCATION")
    for match in _PLACE_PHRASES.finditer(text):
        group = 1 if match.group(1) else 2
        words = match.group(group).split()
        if words and words[0] not in _NOT_NAMES:
            add(match.start(group), match.start(group) + len(match.group(group).rstrip()), "LOCATION")
    for match in _POSTCODE.finditer(text):
        add(match.start(), match.end(), "LOCATION")
    for name in {n.strip() for n in known_names if n and len(n.strip()) >= 2}:
        for match in re.finditer(r"\b" + re.escape(name) + r"\b", text, re.IGNORECASE):
            add(match.start(), match.end(), "NAME")
    for place in {p.strip() for p in known_places if p and len(p.strip()) >= 3}:
        for match in re.finditer(r"\b" + re.escape(place) + r"\b", text, re.IGNORECASE):
            add(match.start(), match.end(), "LOCATION")
    for match in _OTHER_NUMBER.finditer(text):
        add(match.start(), match.end(), "NUMBER")
    return spans


def deidentify_text(text: str, *, known_names: Iterable[str] = (), known_places: Iterable[str] = ()) -> DeidentifiedText:
    """Replace every recognised identifier in `text` with a placeholder naming its kind.

    `known_names` are names the system knows (participants, the patient if ever
    entered); `known_places` are place names it knows (institution cities…). Overlapping
    findings are merged into the longest one, first found wins on ties.
    """
    if not text:
        return DeidentifiedText(text or "")
    spans = sorted(_spans(text, known_names, known_places), key=lambda s: (s[0], -(s[1] - s[0])))
    chosen: list[tuple[int, int, str, str]] = []
    for span in spans:
        if chosen and span[0] < chosen[-1][1]:
            if span[1] > chosen[-1][1]:
                # Overlap that extends further: widen the previous finding, keep its kind.
                start, _end, kind, replacement = chosen[-1]
                chosen[-1] = (start, span[1], kind, replacement)
            continue
        chosen.append(span)
    out: list[str] = []
    position = 0
    findings: list[Finding] = []
    for start, end, kind, replacement in chosen:
        out.append(text[position:start])
        out.append(replacement)
        findings.append(Finding(kind, start, end))
        position = end
    out.append(text[position:])
    return DeidentifiedText("".join(out), findings)


def identifier_kinds(text: str, *, known_names: Iterable[str] = (), known_places: Iterable[str] = ()) -> set[str]:
    """The kinds of identifier found in `text` (for refusing a request reason that has any)."""
    return set(deidentify_text(text, known_names=known_names, known_places=known_places).kinds)
