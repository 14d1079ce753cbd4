"""Fixtures of consult tests: the roster, a pending request, an accepted consult, the cast.

The cast of the access matrix: chikondi (trainee), mensah (supervisor), kalua (faculty
at the trainee's school, invited as observer), boakye (a supervisor at KCL who was not
invited), nyirenda (coordinator of the trainee's school), amina (student), anonymous.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image

from server.people.models import Membership, Role, User
from sessions.consults import services
from sessions.models import ConsultRequest


@pytest.fixture
def roster(people):
    return services.roster_update(supervisor=people.mensah, specialties=["Paediatrics", "Internal medicine"],
                                  languages=["en"], is_active=True)


@pytest.fixture
def other_supervisor(people) -> User:
    """A supervisor at a partner school, on the roster for the same specialty, never invited."""
    user = User.objects.create_user("boakye", email="boakye@demo.openrounds.invalid", password="rounds-demo",
                                    first_name="Ama", last_name="Boakye", languages=["en"])
    Membership.objects.create(user=user, institution=people.schools.kcl, role=Role.SUPERVISOR)
    services.roster_update(supervisor=user, specialties=["Paediatrics"], languages=["en"], is_active=True)
    return user


@pytest.fixture
def pending(people, roster) -> ConsultRequest:
    return services.consult_request_create(
        trainee=people.chikondi, specialty="Paediatrics", urgency="soon", language="en",
        reason="Child with fever and a new rash, unsure about meningococcal disease.",
    )


@pytest.fixture
def consult(people, pending) -> ConsultRequest:
    """Accepted by mensah, with kalua invited as observer."""
    accepted = services.consult_accept(supervisor=people.mensah, consult=pending)
    services.observer_invite(supervisor=people.mensah, consult=accepted, user=people.kalua)
    accepted.refresh_from_db()
    return accepted


@pytest.fixture
def consented(people, consult) -> ConsultRequest:
    services.consent_record(by=people.chikondi, consult=consult, consult_given=True, recording_given=True,
                            teaching_given=True, language="ny")
    return consult


@pytest.fixture
def cast(people, consult, other_supervisor) -> SimpleNamespace:
    from django.contrib.auth.models import AnonymousUser

    return SimpleNamespace(
        trainee=people.chikondi, supervisor=people.mensah, observer=people.kalua,
        uninvited_supervisor=other_supervisor, coordinator=people.nyirenda, student=people.amina,
        anonymous=AnonymousUser(),
    )


def jpeg_with_gps() -> bytes:
    """A small JPEG whose EXIF names a camera and a GPS position (Blantyre)."""
    image = Image.new("RGB", (64, 48), (200, 120, 90))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "ClinicPhone 3"  # Model
    exif[0x0132] = "2026:03:12 10:22:01"  # DateTime
    gps = {1: "S", 2: (15.0, 47.0, 10.0), 3: "E", 4: (35.0, 0.0, 30.0)}
    exif[0x8825] = gps
    exif[0x0112] = 6  # orientation: rotate 90° to display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()
