from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from registry import partitions, services


class Command(BaseCommand):
    help = (
        "PostgreSQL: create the assignment day partitions ahead (as the beat job does) and, "
        "with --back N, those of the last N days too (before loading older assignments)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--back", type=int, default=0, help="Days before today to cover.")

    def handle(self, *args, back, **options):
        if not partitions.is_partitioned():
            raise CommandError("The assignments table is not partitioned (not PostgreSQL?).")
        today = timezone.localdate()
        created = partitions.ensure([today - timedelta(days=n) for n in range(1, back + 1)])
        created += services.assignment_partitions_ensure(today=today)
        days = partitions.existing()
        self.stdout.write(
            f"{len(created)} created; {len(days)} day partitions, {min(days)} to {max(days)}"
        )
