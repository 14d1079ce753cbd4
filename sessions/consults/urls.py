"""Pages of supervised consults, mounted at /consults/."""

from django.urls import path

from . import views

app_name = "consults"

urlpatterns = [
    path("", views.index, name="index"),
    path("request/", views.request_create, name="request"),
    path("roster/", views.roster, name="roster"),
    path("roster/windows/<int:window_id>/remove/", views.roster_window_remove, name="roster-window-remove"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/complete/", views.complete, name="complete"),
    path("<int:pk>/consent/", views.consent, name="consent"),
    path("<int:pk>/consent/withdraw/", views.consent_withdraw, name="consent-withdraw"),
    path("<int:pk>/room/", views.room, name="room"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/note/sign/", views.note_sign, name="note-sign"),
    path("<int:pk>/photos/", views.photo_upload, name="photo-upload"),
    path("<int:pk>/photos/<int:photo_id>/", views.photo, name="photo"),
    path("<int:pk>/recordings/<str:name>", views.recording, name="recording"),
    path("<int:pk>/observers/", views.observer_invite, name="observer-invite"),
    path("<int:pk>/observers/<int:user_id>/revoke/", views.observer_revoke, name="observer-revoke"),
    path("<int:pk>/audit/", views.audit, name="audit"),
    path("<int:pk>/teaching-case/", views.teaching_case, name="teaching-case"),
]
