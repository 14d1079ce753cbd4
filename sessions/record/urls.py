"""Learning-record pages, mounted at /record/ (namespace `record`)."""

from django.urls import path

from . import views

app_name = "record"

urlpatterns = [
    path("certificates/", views.my_certificates, name="certificates"),
    path("certificates/<uuid:certificate_id>.pdf", views.certificate_download_pdf, name="certificate-pdf"),
    path("certificates/<uuid:certificate_id>.json", views.certificate_download_json, name="certificate-json"),
    path("verify/<uuid:certificate_id>/", views.certificate_verify_page, name="verify"),
    path("verify/<uuid:certificate_id>/revoke/", views.certificate_revoke, name="revoke"),
    path("portfolio/", views.my_portfolio, name="portfolio"),
    path("portfolio.pdf", views.my_portfolio, {"as_pdf": True}, name="portfolio-pdf"),
    path("portfolio/sharing/", views.portfolio_sharing, name="portfolio-sharing"),
    path("portfolio/shared/<str:token>/", views.shared_portfolio, name="portfolio-shared"),
    path("portfolio/shared/<str:token>/portfolio.pdf", views.shared_portfolio, {"as_pdf": True}, name="portfolio-shared-pdf"),
    path("rules/", views.certificate_rules_home, name="rules-home"),
    path("rules/school/<int:institution_id>/", views.certificate_rules_school, name="rules-school"),
    path("rules/course/<int:course_id>/", views.certificate_rule_course, name="rules-course"),
    path("report/", views.school_report_home, name="report-home"),
    path("report/<int:institution_id>/", views.school_report_page, name="report"),
    path("report/<int:institution_id>/report.csv", views.school_report_csv, name="report-csv"),
]
