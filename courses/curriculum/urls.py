"""Course pages, mounted at /courses/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.course_list, name="course-list"),
    path("new/", views.course_create, name="course-create"),
    path("<int:course_id>/", views.course_detail, name="course-detail"),
    path("<int:course_id>/offline.zip", views.course_bundle, name="course-bundle"),
    path("<int:course_id>/edit/", views.course_builder, name="course-builder"),
    path("<int:course_id>/publish/", views.course_publish, name="course-publish"),
    path("<int:course_id>/delete/", views.course_delete, name="course-delete"),
    path("<int:course_id>/modules/add/", views.module_add, name="course-module-add"),
    path("<int:course_id>/modules/<int:module_id>/", views.module_update, name="course-module-update"),
    path("<int:course_id>/modules/<int:module_id>/move/", views.module_move, name="course-module-move"),
    path("<int:course_id>/modules/<int:module_id>/remove/", views.module_remove, name="course-module-remove"),
    path("<int:course_id>/items/add/", views.item_add, name="course-item-add"),
    path("<int:course_id>/items/<int:item_id>/move/", views.item_move, name="course-item-move"),
    path("<int:course_id>/items/<int:item_id>/remove/", views.item_remove, name="course-item-remove"),
    path("<int:course_id>/items/<int:item_id>/progress/", views.item_progress, name="course-item-progress"),
]
