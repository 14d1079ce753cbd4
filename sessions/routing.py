"""WebSocket URLs. Every socket passes the origin check and carries the session user (server/asgi.py)."""

from django.urls import path

from sessions.room import consumers

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", consumers.RoomConsumer.as_asgi()),
]
