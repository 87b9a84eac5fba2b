from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from verification import views
from verification.api import jwks

from . import openapi  # noqa: F401  (registers the API key scheme with the schema)
from .errors import api_not_found

urlpatterns = [
    path("api/v1/", include("registry.urls")),
    path("api/v1/", include("verification.urls")),
    path(".well-known/jwks.json", jwks, name="jwks"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("carriers/", views.carriers, name="carriers"),
    path("i18n/", include("django.conf.urls.i18n")),
]
