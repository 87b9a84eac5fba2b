from django.core.management.base import BaseCommand, CommandError

from registry import checks


class Command(BaseCommand):
    help = (
        "Report registry rows that break the trust rules (a hotline held by several carriers, "
        "a hotline that is also a staff phone); exits non-zero when there are any."
    )

    def handle(self, *args, **options):
        problems = checks.trust_rules(databases=["default"])
        for problem in problems:
            self.stdout.write(f"{problem.id}: {problem.msg} {problem.hint}")
        if problems:
            raise CommandError(f"{len(problems)} row(s) break the trust rules.")
        self.stdout.write("No row breaks the trust rules.")
