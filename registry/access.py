"""Who may touch which carrier's records. Every tenant check in the project goes through here."""

from django.db.models import Q, QuerySet

from .models import Carrier, StaffPhone


def access_is_superuser(user) -> bool:
    """A registry operator: an active superuser. The one test of it in the project."""
    return bool(getattr(user, "is_superuser", False) and user.is_active)


def access_operator_carrier(user) -> Carrier | None:
    """The carrier an operator works for; None for anyone else (superusers included)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    operator = getattr(user, "carrier_operator", None)
    return operator.carrier if operator is not None else None


def access_can_use_registry_admin(user) -> bool:
    return bool(
        getattr(user, "is_active", False)
        and user.is_staff
        and (access_is_superuser(user) or access_operator_carrier(user) is not None)
    )


def access_carriers_for_user(user) -> QuerySet[Carrier]:
    if access_is_superuser(user):
        return Carrier.objects.all()
    carrier = access_operator_carrier(user)
    if carrier is None:
        return Carrier.objects.none()
    return Carrier.objects.filter(pk=carrier.pk)


def access_scope(queryset: QuerySet, user, carrier_path: str = "carrier") -> QuerySet:
    """`queryset` cut down to what `user` may see: everything for a superuser, their own
    carrier's rows for an operator, nothing for anyone else."""
    if access_is_superuser(user):
        return queryset
    carrier = access_operator_carrier(user)
    if carrier is None:
        return queryset.none()
    return queryset.filter(**{carrier_path: carrier.pk})  # a pk: `pk=<Carrier>` is refused


def access_superuser_scope(queryset: QuerySet, user) -> QuerySet:
    """`queryset` for what only a superuser manages (operators, API keys): all of it for a
    superuser, nothing for anyone else, carrier operators included."""
    if access_is_superuser(user):
        return queryset
    return queryset.none()


def access_scope_reports(queryset: QuerySet, user) -> QuerySet:
    """Scam reports a user may see: a superuser all; an operator those naming their carrier
    and those about their own staff numbers (possible spoofing of their staff)."""
    if access_is_superuser(user):
        return queryset
    carrier = access_operator_carrier(user)
    if carrier is None:
        return queryset.none()
    staff_numbers = StaffPhone.objects.filter(carrier=carrier).values("number")
    return queryset.filter(Q(claimed_carrier=carrier.pk) | Q(number__in=staff_numbers))
