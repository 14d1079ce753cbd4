"""Where a room's broadcast playlists are served (under /rooms/<id>/broadcast/)."""

from django.urls import path

from . import broadcast_views

app_name = "broadcast"

urlpatterns = [
    path("<int:session_id>/broadcast/master.m3u8", broadcast_views.broadcast_master, name="master"),
    path("<int:session_id>/broadcast/<str:rendition>.m3u8", broadcast_views.broadcast_rendition, name="rendition"),
]
