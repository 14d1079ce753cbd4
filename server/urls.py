from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from server.api import api
from server.health import health_api
from server.people import views as people_views
from sessions.record import views as record_views

urlpatterns = [
    path("", people_views.home, name="home"),
    path("", include("server.people.urls")),
    path("", include("sessions.urls")),
    path("", include("courses.urls")),
    path("api/", api.urls),
    path("lti/", include("server.lti.urls")),
    path("", health_api.urls),
    path(".well-known/jwks.json", record_views.jwks, name="jwks"),
    path(".well-known/did.json", record_views.did_web, name="did-web"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]

# Stored files are never served directly, not even in the demo: every download goes
# through a view that checks who may read it (library downloads, consult photos).
