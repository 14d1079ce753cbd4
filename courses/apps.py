from django.apps import AppConfig

from server.people.dashboard import DashboardSection


class CoursesConfig(AppConfig):
    """The shared library (materials from many schools) and the courses built from it."""

    name = "courses"
    label = "courses"
    verbose_name = "Library and courses"
    profile_sections: list[str] = []
    dashboard_sections = [
        DashboardSection("library/dashboard_new.html", "courses.library.selectors.dashboard_new_materials", order=20),
        DashboardSection("curriculum/dashboard_courses.html", "courses.curriculum.selectors.dashboard_courses", order=30),
    ]

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_repair_search_index, sender=self, dispatch_uid="courses.library.search_index_repair")


def _repair_search_index(sender, using: str = "default", **kwargs) -> None:
    """After `migrate`: SQLite table rebuilds drop the FTS triggers; put them back."""
    from courses.library.search import search_index_repair

    search_index_repair(using=using)
