"""`python manage.py library_index_files`: make the text inside existing PDFs searchable.

New and replaced PDFs are read when they are contributed (courses/library/text_extraction.py);
this reads the current main PDF of every material contributed before that, once. Safe to run
again: it only fills materials whose file text is still empty (or all with --all).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Extract the text of existing PDF materials into the search index."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Read every PDF again, not only those without text.")

    def handle(self, *args: Any, **options: Any) -> None:
        from courses.library.services import material_index_file_text
        from courses.models import Material

        materials = Material.objects.filter(kind="pdf")
        if not options["all"]:
            materials = materials.filter(file_text="")
        done = sum(1 for material in materials.iterator() if material_index_file_text(material=material))
        self.stdout.write(f"{done} PDF material(s) now searchable by their text.")
