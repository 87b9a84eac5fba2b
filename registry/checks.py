"""`manage.py check --database default` (and migrate) report registry rows written before a
rule that they break: the rules refuse such writes now, but old rows are not silently kept."""

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError

from . import selectors


@register(Tags.database)
def trust_rules(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    if not databases:
        return []
    try:
        several = selectors.hotlines_of_several_carriers()
        both = selectors.hotlines_that_are_staff_phones()
    except DatabaseError:  # not migrated yet: nothing to report
        return []
    warnings = [
        Warning(
            f"Hotline {number} belongs to several carriers: {', '.join(slugs)}.",
            hint="Keep it at its real carrier; delete the others in the admin.",
            id="registry.W001",
        )
        for number, slugs in several.items()
    ]
    warnings += [
        Warning(
            f"{number} is a hotline of {', '.join(where['hotline_of'])} and an active staff "
            f"phone of {', '.join(where['staff_phone_of'])}.",
            hint="A number is never both: delete the hotline or revoke the staff phone.",
            id="registry.W002",
        )
        for number, where in both.items()
    ]
    return warnings
