from django.urls import path

from . import api

urlpatterns = [
    path("numbers/<str:number>/", api.NumberView.as_view(), name="api-number"),
    path("verifications/", api.VerificationsView.as_view(), name="api-verifications"),
    path("carriers/", api.CarriersView.as_view(), name="api-carriers"),
    path("reports/", api.ReportsView.as_view(), name="api-reports"),
    # A carrier endpoint, but a call intent is the verification app's: its route lives here.
    path("carrier/call-intents/", api.CallIntentsView.as_view(), name="carrier-call-intents"),
]
