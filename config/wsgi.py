import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from core.bodies import ChunkedBodyMiddleware  # noqa: E402  (needs the settings module set)

application = ChunkedBodyMiddleware(get_wsgi_application())
