"""Pages of slides, mounted at /slides/: the page images (the room page includes the rest)."""

from django.urls import path

from . import views

app_name = "slides"

urlpatterns = [
    path("decks/<int:deck_id>/<int:number>/<str:size>/", views.page_image, name="page-image"),
]
