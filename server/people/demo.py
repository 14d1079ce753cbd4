"""Demo people and schools, seeded idempotently by `manage.py seed_demo`.

The named people are those of shared/PRODUCT.md; tests use them as fixture users.
Every demo password is DEMO_PASSWORD (demo only: the command refuses to run with DEBUG off).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .models import Institution, Membership, Partnership, PartnershipStatus, Role, User

DEMO_PASSWORD = "rounds-demo"


@dataclass(frozen=True)
class SchoolSeed:
    key: str
    name: str
    short_name: str
    country: str
    city: str
    time_zone: str
    website: str
    language: str


SCHOOLS: list[SchoolSeed] = [
    SchoolSeed("lagos", "University of Lagos College of Medicine", "UNILAG", "NG", "Lagos", "Africa/Lagos", "https://unilag.edu.ng", "en"),
    SchoolSeed("heidelberg", "Heidelberg University Faculty of Medicine", "Heidelberg", "DE", "Heidelberg", "Europe/Berlin", "https://www.medizinische-fakultaet-hd.uni-heidelberg.de", "de"),
    SchoolSeed("kamuzu", "Kamuzu University of Health Sciences", "KUHeS", "MW", "Blantyre", "Africa/Blantyre", "https://www.kuhes.ac.mw", "en"),
    SchoolSeed("knust", "KNUST School of Medicine and Dentistry", "KNUST", "GH", "Kumasi", "Africa/Accra", "https://www.knust.edu.gh", "en"),
    SchoolSeed("tokyo", "University of Tokyo Faculty of Medicine", "UTokyo", "JP", "Tokyo", "Asia/Tokyo", "https://www.m.u-tokyo.ac.jp", "ja"),
    SchoolSeed("aiims", "All India Institute of Medical Sciences", "AIIMS", "IN", "New Delhi", "Asia/Kolkata", "https://www.aiims.edu", "en"),
    SchoolSeed("usp", "Faculdade de Medicina da Universidade de São Paulo", "FMUSP", "BR", "São Paulo", "America/Sao_Paulo", "https://www.fm.usp.br", "pt"),
    SchoolSeed("kcl", "King's College London GKT School of Medical Education", "KCL", "GB", "London", "Europe/London", "https://www.kcl.ac.uk", "en"),
    SchoolSeed("dakar", "Faculté de Médecine, Université Cheikh Anta Diop", "UCAD", "SN", "Dakar", "Africa/Dakar", "https://www.ucad.sn", "fr"),
    SchoolSeed("maputo", "Faculdade de Medicina, Universidade Eduardo Mondlane", "UEM", "MZ", "Maputo", "Africa/Maputo", "https://www.uem.mz", "pt"),
]

# (first school, second school, status)
PARTNERSHIPS: list[tuple[str, str, str]] = [
    ("lagos", "heidelberg", PartnershipStatus.ACTIVE),
    ("lagos", "knust", PartnershipStatus.ACTIVE),
    ("lagos", "tokyo", PartnershipStatus.ACTIVE),
    ("heidelberg", "aiims", PartnershipStatus.ACTIVE),
    ("heidelberg", "usp", PartnershipStatus.ACTIVE),
    ("kamuzu", "knust", PartnershipStatus.ACTIVE),
    ("kamuzu", "kcl", PartnershipStatus.ACTIVE),
    ("knust", "kcl", PartnershipStatus.ACTIVE),
    ("tokyo", "aiims", PartnershipStatus.ACTIVE),
    ("usp", "maputo", PartnershipStatus.ACTIVE),
    ("dakar", "heidelberg", PartnershipStatus.PROPOSED),
    ("lagos", "usp", PartnershipStatus.ENDED),
]


@dataclass(frozen=True)
class PersonSeed:
    username: str
    first_name: str
    last_name: str
    school: str
    role: str
    languages: tuple[str, ...]
    extra_schools: tuple[tuple[str, str], ...] = ()
    title: str = ""


NAMED_PEOPLE: list[PersonSeed] = [
    PersonSeed("amina", "Amina", "Bello", "lagos", Role.STUDENT, ("en", "ha", "yo")),
    PersonSeed("lukas", "Lukas", "Weber", "heidelberg", Role.STUDENT, ("de", "en")),
    PersonSeed("chikondi", "Chikondi", "Banda", "kamuzu", Role.TRAINEE, ("en", "ny")),
    PersonSeed("mensah", "Kwame", "Mensah", "knust", Role.SUPERVISOR, ("en", "tw"), (("kcl", Role.SUPERVISOR),), "Dr."),
    PersonSeed("tanaka", "Haruto", "Tanaka", "tokyo", Role.FACULTY, ("ja", "en"), (), "Prof."),
    PersonSeed("okafor", "Ngozi", "Okafor", "lagos", Role.COORDINATOR, ("en", "ig")),
]

# Thirty more people: two students and one faculty member per school.
_MORE = {
    "lagos": [("tunde", "Tunde", "Adeyemi", Role.STUDENT), ("chiamaka", "Chiamaka", "Eze", Role.STUDENT), ("adebayo", "Folake", "Adebayo", Role.FACULTY)],
    "heidelberg": [("greta", "Greta", "Schneider", Role.STUDENT), ("jonas", "Jonas", "Fischer", Role.STUDENT), ("hoffmann", "Sabine", "Hoffmann", Role.FACULTY)],
    "kamuzu": [("thoko", "Thoko", "Phiri", Role.STUDENT), ("mphatso", "Mphatso", "Mwale", Role.TRAINEE), ("kalua", "Grace", "Kalua", Role.FACULTY)],
    "knust": [("akosua", "Akosua", "Owusu", Role.STUDENT), ("yaw", "Yaw", "Boateng", Role.STUDENT), ("asante", "Efua", "Asante", Role.FACULTY)],
    "tokyo": [("yui", "Yui", "Sato", Role.STUDENT), ("ren", "Ren", "Suzuki", Role.STUDENT), ("yamamoto", "Aiko", "Yamamoto", Role.FACULTY)],
    "aiims": [("priya", "Priya", "Sharma", Role.STUDENT), ("arjun", "Arjun", "Iyer", Role.STUDENT), ("rao", "Meera", "Rao", Role.FACULTY)],
    "usp": [("beatriz", "Beatriz", "Souza", Role.STUDENT), ("rafael", "Rafael", "Lima", Role.STUDENT), ("oliveira", "Carla", "Oliveira", Role.FACULTY)],
    "kcl": [("oliver", "Oliver", "Hughes", Role.STUDENT), ("amara", "Amara", "Okeke", Role.STUDENT), ("clarke", "Helen", "Clarke", Role.FACULTY)],
    "dakar": [("awa", "Awa", "Diop", Role.STUDENT), ("moussa", "Moussa", "Ndiaye", Role.STUDENT), ("sow", "Fatou", "Sow", Role.FACULTY)],
    "maputo": [("lucia", "Lúcia", "Machava", Role.STUDENT), ("nelson", "Nelson", "Cossa", Role.STUDENT), ("tembe", "Albino", "Tembe", Role.FACULTY)],
}
# One coordinator per school besides Ms. Okafor's, so every school can be managed.
_COORDINATORS = {
    "heidelberg": ("schmidt", "Petra", "Schmidt"), "kamuzu": ("nyirenda", "Esther", "Nyirenda"),
    "knust": ("agyeman", "Kofi", "Agyeman"), "tokyo": ("kobayashi", "Emi", "Kobayashi"),
    "aiims": ("gupta", "Anil", "Gupta"), "usp": ("pereira", "Marcos", "Pereira"),
    "kcl": ("wright", "James", "Wright"), "dakar": ("fall", "Mariama", "Fall"), "maputo": ("sitoe", "Rosa", "Sitoe"),
}


def _all_people() -> list[PersonSeed]:
    people = list(NAMED_PEOPLE)
    by_school = {school.key: school for school in SCHOOLS}
    for key, rows in _MORE.items():
        language = by_school[key].language
        for username, first, last, role in rows:
            people.append(PersonSeed(username, first, last, key, role, tuple(dict.fromkeys((language, "en")))))
    for key, (username, first, last) in _COORDINATORS.items():
        people.append(PersonSeed(username, first, last, key, Role.COORDINATOR, tuple(dict.fromkeys((by_school[key].language, "en")))))
    return people


@transaction.atomic
def seed_people() -> dict[str, Institution]:
    """Create or update the demo schools, people and partnerships; safe to run again."""
    schools: dict[str, Institution] = {}
    for seed in SCHOOLS:
        schools[seed.key], _ = Institution.objects.update_or_create(
            name=seed.name,
            defaults={"short_name": seed.short_name, "country": seed.country, "city": seed.city, "time_zone": seed.time_zone, "website": seed.website},
        )
    password_hash = make_password(DEMO_PASSWORD)  # one hash for all: the same password, hashed once
    for person in _all_people():
        school = schools[person.school]
        display = f"{person.title} {person.first_name} {person.last_name}".strip()
        user, created = User.objects.get_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name, "last_name": person.last_name, "display_name": display,
                "email": f"{person.username}@demo.openrounds.invalid", "time_zone": school.time_zone,
                "languages": list(person.languages), "password": password_hash,
            },
        )
        for key, role in ((person.school, person.role), *person.extra_schools):
            Membership.objects.get_or_create(user=user, institution=schools[key], defaults={"role": role})
    for a, b, status in PARTNERSHIPS:
        first, second = sorted((schools[a], schools[b]), key=lambda s: s.pk)
        exists = Partnership.objects.filter(first=first, second=second, status=status).exists()
        if not exists:
            now = timezone.now()
            Partnership.objects.create(
                first=first, second=second, proposed_by=schools[a], status=status,
                activated_at=now if status in (PartnershipStatus.ACTIVE, PartnershipStatus.ENDED) else None,
                ended_at=now if status == PartnershipStatus.ENDED else None,
            )
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "display_name": "Platform admin", "email": "admin@demo.openrounds.invalid", "password": password_hash}
    )
    return schools
