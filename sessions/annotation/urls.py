"""Annotation pages, mounted at /annotation/: the record's export to the library."""

from django.urls import path

from . import views

app_name = "annotation"

urlpatterns = [
    path("sessions/<int:session_id>/export/", views.export_to_library, name="export"),
]
