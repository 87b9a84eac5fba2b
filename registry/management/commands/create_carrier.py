from django.core.management.base import BaseCommand, CommandError

from registry import services


class Command(BaseCommand):
    help = "Create a carrier, or update its name and add hotlines (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--hotline", action="append", default=[], help="An official hotline; repeatable."
        )

    def handle(self, *args, slug, name, hotline, **options):
        try:
            carrier, created = services.carrier_save(slug=slug, name=name, hotlines=hotline)
        except services.RegistryError as exc:
            raise CommandError(exc.message) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} carrier {carrier.slug} ({carrier.name})")
