"""De-identification removes the identifiers the form knows of and keeps the clinical text."""

from __future__ import annotations

import pytest

from sessions.consults.deidentify import SAFE_HARBOR_KINDS, deidentify_text

NOTE = (
    "Mr. John Phiri, aged 34, MRN 00123456, seen on 12 March 2026 at home in Chileka village. "
    "Phone +265 888 123 456, fax: 01 234 5678, email john.phiri@example.com. "
    "National ID MW-1234567, NHIS no 99812345, account 7712345, licence no. DL-55321, plate BT 1234, "
    "pacemaker serial SN-99812X, see http://example.org/records 10.0.0.12, fingerprint scan on file. "
    "Grandmother aged 93. Ref QX-88120. Known to Chikondi. "
    "Fever 3 days, Hb 9.8, BP 120/80, SpO2 94%, temp 38.5; artemether-lumefantrine 4 tabs bd for 3 days."
)


@pytest.mark.parametrize("identifier", [
    "John Phiri", "00123456", "12 March", "Chileka", "888 123 456", "234 5678", "john.phiri@example.com",
    "MW-1234567", "99812345", "7712345", "DL-55321", "BT 1234", "SN-99812X", "example.org", "10.0.0.12",
    "fingerprint", "93", "QX-88120", "Chikondi",
])
def test_known_identifiers_are_removed(identifier):
    result = deidentify_text(NOTE, known_names=["Chikondi"], known_places=["Blantyre"])
    assert identifier not in result.text


def test_the_year_of_a_date_is_kept_and_old_ages_become_90_or_older():
    result = deidentify_text(NOTE)
    assert "[DATE 2026]" in result.text
    assert "90 or older" in result.text


def test_clinical_content_is_kept():
    result = deidentify_text(NOTE)
    for clinical in ("Fever 3 days", "Hb 9.8", "BP 120/80", "SpO2 94%", "temp 38.5", "artemether-lumefantrine 4 tabs bd"):
        assert clinical in result.text


def test_every_kind_found_is_a_safe_harbor_kind():
    result = deidentify_text(NOTE, known_names=["Chikondi"])
    assert set(result.kinds) <= set(SAFE_HARBOR_KINDS)
    assert {"NAME", "MRN", "DATE", "LOCATION", "PHONE", "FAX", "EMAIL", "NATIONAL_ID", "HEALTH_PLAN", "ACCOUNT",
            "LICENCE", "VEHICLE", "DEVICE", "URL", "IP", "BIOMETRIC", "NUMBER"} <= set(result.kinds)
    assert len(SAFE_HARBOR_KINDS) == 18


def test_city_names_the_platform_knows_are_removed():
    result = deidentify_text("Referred from Blantyre with anaemia", known_places=["Blantyre"])
    assert "Blantyre" not in result.text and "anaemia" in result.text
