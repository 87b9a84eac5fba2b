from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from registry.models import Carrier, ClientAPIKey, OfficialChannel, StaffMember, StaffPhone


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_carrier_is_idempotent(db):
    run("create_carrier", "acme", "--name", "Acme", "--hotline", "1900 1234")
    run(
        "create_carrier",
        "acme",
        "--name",
        "Acme",
        "--hotline",
        "19001234",
        "--hotline",
        "1900 9999",
    )
    assert Carrier.objects.count() == 1
    assert sorted(OfficialChannel.objects.values_list("value", flat=True)) == [
        "+8419001234",
        "+8419009999",
    ]


def test_create_carrier_refuses_a_bad_hotline(db):
    with pytest.raises(CommandError, match="only digits|chỉ gồm chữ số"):
        run("create_carrier", "acme", "--name", "Acme", "--hotline", "hello")
    assert not Carrier.objects.exists()


def test_create_api_key_prints_a_working_key_on_its_last_line(carrier_a):
    key = run("create_api_key", "dispatch", "--carrier", "alpha-post").strip().splitlines()[-1]
    api_key = ClientAPIKey.objects.get_from_key(key)
    assert api_key.carrier == carrier_a and api_key.name == "dispatch"


def test_create_api_key_without_carrier_makes_a_partner_key(db):
    key = run("create_api_key", "partner-app").strip().splitlines()[-1]
    assert ClientAPIKey.objects.get_from_key(key).carrier is None


def test_create_api_key_refuses_an_unknown_carrier(db):
    with pytest.raises(CommandError):
        run("create_api_key", "x", "--carrier", "nope")
    assert not ClientAPIKey.objects.exists()


def test_seed_demo_is_idempotent(db, django_user_model):
    run("seed_demo")
    counts = (Carrier.objects.count(), StaffMember.objects.count(), StaffPhone.objects.count())
    run("seed_demo")
    assert (
        Carrier.objects.count(),
        StaffMember.objects.count(),
        StaffPhone.objects.count(),
    ) == counts
    assert counts[0] == 2
    assert all("DEMO" in name for name in Carrier.objects.values_list("name", flat=True))
    operator = django_user_model.objects.get(username="demo-post-operator")
    assert operator.check_password("demo-registry-2026")
    assert operator.carrier_operator.carrier.slug == "demo-post"
