"""The room's test fixtures (a clean fan-out node, quick timers) for breakout tests."""

from ..room.conftest import quick_room_timers, room_node  # noqa: F401
