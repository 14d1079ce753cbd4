from django.urls import include, path

from . import views

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/tokens/", views.access_tokens, name="access-tokens"),
    path("accounts/data-saver/", views.data_saver_toggle, name="data-saver"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("institutions/<int:pk>/", views.institution_detail, name="institution"),
    path("institutions/<int:pk>/invite/", views.invitation_create, name="invitation-create"),
    path("institutions/<int:pk>/partnerships/", views.partnership_propose, name="partnership-propose"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("memberships/<int:pk>/", views.membership_update, name="membership-update"),
    path("partnerships/<int:pk>/", views.partnership_update, name="partnership-update"),
]
