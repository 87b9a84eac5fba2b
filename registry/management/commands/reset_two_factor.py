from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.twofactor import two_factor_reset


class Command(BaseCommand):
    help = (
        "Forget a user's authenticator and recovery codes (a lost phone): their sessions "
        "stop being verified at once, and their next admin sign-in enrols a new device."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        removed = two_factor_reset(user=user)
        self.stdout.write(f"Removed {removed} two-factor device(s) of {username}")
