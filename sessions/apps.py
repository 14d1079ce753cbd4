from django.apps import AppConfig

from server.people.dashboard import DashboardSection


class LiveSessionsConfig(AppConfig):
    """Live sessions: conferences, lectures, peer sessions and consults, and their rooms.

    Django's contrib already owns the label `sessions`, so this app is `live`.
    """

    name = "sessions"
    label = "live"
    verbose_name = "Live sessions"
    profile_sections: list[str] = ["room/profile_attendance.html"]
    dashboard_sections = [
        DashboardSection("scheduling/dashboard_next.html", "sessions.scheduling.selectors.dashboard_next_sessions", order=10),
        DashboardSection("consults/dashboard_consults.html", "sessions.consults.selectors.dashboard_consults", order=40),
        DashboardSection("record/dashboard_record.html", "sessions.record.selectors.dashboard_record", order=45),
    ]

    def ready(self) -> None:
        # The room's transport calls into the room's domain only through these hooks.
        from sessions.room import fanout, presence, registry, selectors, services

        fanout.install_hooks(fanout.HubHooks(
            process_beat=presence.room_process_beat,
            connections_restore=presence.room_connections_restore,
            connection_close=presence.room_connection_close,
            connections_sweep=presence.room_connections_sweep,
            orphans=presence.room_orphans,
            presence_flush=presence.room_presence_flush,
            poll_counts_take=services.poll_counts_take,
            event_seen=selectors.room_snapshot_forget,
            deadlines_upcoming=registry.room_deadlines_upcoming,
            deadline_run=registry.room_deadline_run,
        ))
        # Room message handlers contributed by other parts register themselves on import.
        from sessions.annotation import room_handlers as annotation_handlers  # noqa: F401
        from sessions.breakouts import room_handlers as breakout_handlers  # noqa: F401
        from sessions.captions import room_handlers as caption_handlers  # noqa: F401
        from sessions.consults import room_handlers  # noqa: F401
        from sessions.media import (
            broadcast_room,  # noqa: F401
            signalling,  # noqa: F401
        )
        from sessions.peer import room_handlers as peer_handlers  # noqa: F401
        from sessions.record import listeners as record_listeners  # noqa: F401
        from sessions.slides import room_handlers as slides_handlers  # noqa: F401
