from django.core.management.base import BaseCommand, CommandError

from registry import services
from registry.models import Carrier


class Command(BaseCommand):
    help = (
        "Create an API key and print it alone on the last line. With --carrier, the key "
        "may use the carrier API for that carrier."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--carrier", metavar="SLUG")

    def handle(self, *args, name, carrier, **options):
        bound_to = None
        if carrier:
            bound_to = Carrier.objects.filter(slug=carrier).first()
            if bound_to is None:
                raise CommandError(f"No carrier with slug {carrier!r}")
        try:
            api_key, raw_key = services.api_key_create(name=name, carrier=bound_to)
        except services.RegistryError as exc:
            raise CommandError(exc.message) from None
        scope = f"carrier {bound_to.slug}" if bound_to else "partner"
        self.stdout.write(f"API key {api_key.prefix} ({scope}). It is shown only once:")
        self.stdout.write(raw_key)
