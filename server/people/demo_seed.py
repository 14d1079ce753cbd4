"""Entry point of the people seed for `seed_demo`."""

from __future__ import annotations

from typing import TextIO

from .demo import seed_people


def seed(stdout: TextIO) -> None:
    schools = seed_people()
    stdout.write(f"people: {len(schools)} schools seeded")
