from django.apps import AppConfig


class LiveSessionsConfig(AppConfig):
    """Live sessions: conferences, lectures, peer sessions and consults, and their rooms.

    Django's contrib already owns the label `sessions`, so this app is `live`.
    """

    name = "sessions"
    label = "live"
    verbose_name = "Live sessions"
    profile_sections: list[str] = ["room/profile_attendance.html"]

    def ready(self) -> None:
        # Room message handlers contributed by other parts register themselves on import.
        from sessions.consults import room_handlers  # noqa: F401
        from sessions.media import signalling  # noqa: F401
        from sessions.peer import room_handlers as peer_handlers  # noqa: F401
        from sessions.slides import room_handlers as slides_handlers  # noqa: F401
