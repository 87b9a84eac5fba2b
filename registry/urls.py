from django.urls import path

from . import api

urlpatterns = [
    path("carrier/staff/<str:employee_code>/", api.StaffView.as_view(), name="carrier-staff"),
    path("carrier/assignments/", api.AssignmentsView.as_view(), name="carrier-assignments"),
    path("carrier/labels/", api.LabelsView.as_view(), name="carrier-labels"),
]
