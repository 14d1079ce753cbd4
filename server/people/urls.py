from django.contrib.auth import views as auth_views
from django.urls import include, path
from django_ratelimit.decorators import ratelimit

from . import views
from .throttling import rate

#: Password reset mails cost a stranger nothing: per address and per account asked for.
password_reset = ratelimit(key="ip", rate=rate(10), method="POST", block=True)(
    ratelimit(key="post:email", rate=rate(3), method="POST", block=True)(auth_views.PasswordResetView.as_view())
)

urlpatterns = [
    path("accounts/password_reset/", password_reset, name="password_reset"),
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
