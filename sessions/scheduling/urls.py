"""Scheduling pages, mounted at /sessions/ (namespace `scheduling`)."""

from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("new/", views.create, name="create"),
    path("mine/", views.my_schedule, name="mine"),
    path("mine/feed/", views.feed_rotate, name="feed-rotate"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
    path("<int:session_id>/", views.detail, name="detail"),
    path("<int:session_id>/edit/", views.edit, name="edit"),
    path("<int:session_id>/cancel/", views.cancel, name="cancel"),
    path("<int:session_id>/register/", views.register, name="register"),
    path("<int:session_id>/unregister/", views.unregister, name="unregister"),
    path("<int:session_id>/invite/", views.invite, name="invite"),
    path("<int:session_id>/recommendations/", views.recommend, name="recommend"),
    path("<int:session_id>/reflection/", views.reflect, name="reflect"),
    path("<int:session_id>/recordings/<int:recording_id>/", views.recording_download, name="recording"),
    path("<int:session_id>/recordings/<int:recording_id>/captions.vtt", views.recording_captions, name="recording-captions"),
    path("<int:session_id>/recordings/<int:recording_id>/publish/", views.recording_publish, name="recording-publish"),
    path("<int:session_id>/calendar.ics", views.session_ics, name="ics"),
]
