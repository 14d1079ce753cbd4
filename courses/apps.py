from django.apps import AppConfig


class CoursesConfig(AppConfig):
    """The shared library (materials from many schools) and the courses built from it."""

    name = "courses"
    label = "courses"
    verbose_name = "Library and courses"
    profile_sections: list[str] = []
