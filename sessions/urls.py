from django.urls import include, path

urlpatterns = [
    path("sessions/", include("sessions.scheduling.urls")),
    path("rooms/", include("sessions.room.urls")),
    path("rooms/", include("sessions.media.broadcast_urls")),
    path("consults/", include("sessions.consults.urls")),
    path("peer/", include("sessions.peer.urls")),
    path("slides/", include("sessions.slides.urls")),
    path("annotation/", include("sessions.annotation.urls")),
    path("record/", include("sessions.record.urls")),
]
