from django.urls import path

from . import views

app_name = "room"

urlpatterns = [
    path("<int:session_id>/", views.room_page, name="room"),
    path("<int:session_id>/attendance.csv", views.attendance_csv, name="attendance"),
]
