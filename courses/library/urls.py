"""Library pages, mounted at /library/ (the JSON API is in api.py, at /api/library/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.library_search, name="library-search"),
    path("contribute/", views.material_contribute, name="material-contribute"),
    path("<int:material_id>/", views.material_detail, name="material-detail"),
    path("<int:material_id>/edit/", views.material_edit, name="material-edit"),
    path("<int:material_id>/versions/", views.material_versions, name="material-versions"),
    path("<int:material_id>/withdraw/", views.material_withdraw, name="material-withdraw"),
    path("<int:material_id>/files/<int:file_id>/", views.material_file, name="material-file"),
]
