from django.apps import AppConfig


class PeopleConfig(AppConfig):
    """Users, institutions, memberships and partnerships: who is who on the platform."""

    name = "server.people"
    label = "people"
    verbose_name = "People and institutions"
