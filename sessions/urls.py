from django.urls import include, path

urlpatterns = [
    path("sessions/", include("sessions.scheduling.urls")),
    path("rooms/", include("sessions.room.urls")),
    path("consults/", include("sessions.consults.urls")),
    path("peer/", include("sessions.peer.urls")),
    path("slides/", include("sessions.slides.urls")),
]
