from django.urls import include, path

urlpatterns = [
    path("library/", include("courses.library.urls")),
    path("courses/", include("courses.curriculum.urls")),
    path("courses/", include("courses.assessment.urls")),
]
