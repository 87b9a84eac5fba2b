from django.urls import path

from . import api

urlpatterns = [
    path("numbers/<str:number>/", api.NumberView.as_view(), name="api-number"),
    path("verifications/", api.VerificationsView.as_view(), name="api-verifications"),
    path("carriers/", api.CarriersView.as_view(), name="api-carriers"),
    path("reports/", api.ReportsView.as_view(), name="api-reports"),
]
