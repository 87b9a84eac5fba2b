from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import health, metrics, webapp
from core.errors import api_not_found
from registry import apikeys  # noqa: F401  (registers the API key scheme of the schema)
from verification import views
from verification.api import jwks

urlpatterns = [
    path("api/v1/", include("registry.urls")),
    path("api/v1/", include("verification.urls")),
    path(".well-known/jwks.json", jwks, name="jwks"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL: no inline script, so the
    # Content-Security-Policy holds on the docs page too.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
    path("admin/dashboard/", admin.site.admin_view(views.dashboard), name="carrier-dashboard"),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("carriers/", views.carriers, name="carriers"),
    path("report/", views.report, name="report"),
    path("warnings/", views.warnings, name="warnings"),
    path("p/<str:token>/", views.parcel, name="parcel"),
    path("p/<str:token>/shipper.vcf", views.parcel_vcard, name="parcel-vcard"),
    path("offline/", views.offline, name="offline"),
    path("favicon.ico", webapp.favicon, name="favicon"),
    path("manifest.webmanifest", webapp.manifest, name="manifest"),
    path("sw.js", webapp.service_worker, name="service-worker"),
    path("i18n/", include("django.conf.urls.i18n")),
]
