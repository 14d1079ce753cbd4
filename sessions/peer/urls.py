"""Peer exchange pages, mounted at /peer/ (namespace `peer`)."""

from django.urls import path

from . import views

app_name = "peer"

urlpatterns = [
    path("", views.exchange, name="exchange"),
    path("requests/<int:request_id>/withdraw/", views.withdraw, name="withdraw"),
    path("sessions/<int:session_id>/notes.txt", views.notes_download, name="notes-download"),
]
