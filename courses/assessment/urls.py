"""Assessment pages, mounted under /courses/ next to the course pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:course_id>/assessment/", views.manage_page, name="assessment-manage"),
    path("<int:course_id>/assessment/marking/", views.marking_page, name="assessment-marking"),
    path("<int:course_id>/quizzes/<int:set_id>/", views.quiz_page, name="quiz"),
    path("<int:course_id>/quizzes/<int:set_id>/attempts/<int:attempt_id>/", views.attempt_page, name="quiz-attempt"),
    path("<int:course_id>/quizzes/<int:set_id>/edit/", views.edit_page, name="quiz-edit"),
    path("<int:course_id>/quizzes/<int:set_id>/delete/", views.set_delete, name="quiz-delete"),
    path(
        "<int:course_id>/quizzes/<int:set_id>/questions/<int:question_id>/remove/",
        views.question_remove,
        name="quiz-question-remove",
    ),
    path(
        "<int:course_id>/quizzes/<int:set_id>/questions/<int:question_id>/edit/",
        views.question_edit_page,
        name="quiz-question-edit",
    ),
    path(
        "<int:course_id>/quizzes/<int:set_id>/questions/<int:question_id>/move/",
        views.question_move,
        name="quiz-question-move",
    ),
    path(
        "<int:course_id>/quizzes/<int:set_id>/questions/<int:question_id>/history/",
        views.question_history_page,
        name="quiz-question-history",
    ),
    path(
        "<int:course_id>/quizzes/<int:set_id>/questions/<int:question_id>/transfer/",
        views.question_transfer,
        name="quiz-question-transfer",
    ),
    path("<int:course_id>/quizzes/<int:set_id>/statistics/", views.statistics_page, name="quiz-statistics"),
]
