"""The admin, driven through its real URLs with the named users of tests/conftest.py.

alice operates carrier A, bob operates carrier B, root is a superuser and charlie is a staff
user with no carrier. Every isolation test runs the same request as root first, so that it
cannot pass because the URL or the marker is wrong rather than because bob is kept out.
"""

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from registry import services
from registry.models import (
    Carrier,
    CarrierOperator,
    ClientAPIKey,
    DeliveryAssignment,
    OfficialChannel,
    StaffMember,
    StaffPhone,
)
from registry.pii import recipient_digest

# Models an operator manages (scoped to their carrier) and models only a superuser sees.
SCOPED = ["carrier", "officialchannel", "staffmember", "staffphone", "deliveryassignment"]
SUPERUSER_ONLY = ["carrieroperator", "clientapikey"]
ALL_MODELS = SCOPED + SUPERUSER_ONLY
WITH_HISTORY = {"staffmember", "staffphone"}  # models with django-simple-history records


@dataclass
class Row:
    obj: object
    marker: str  # text the changelist shows for this row and for no row of the other carrier


@pytest.fixture
def world(alice, bob, root, charlie, carrier_a, carrier_b, staff_a, staff_b):
    """One row of every registry model for each carrier."""
    assignment_a, _ = services.assignment_upsert(
        carrier=carrier_a, tracking_code="TRK-A-1", staff=staff_a, recipient_phone="0901 234 567"
    )
    assignment_b, _ = services.assignment_upsert(
        carrier=carrier_b, tracking_code="TRK-B-1", staff=staff_b, recipient_phone="0907 654 321"
    )
    key_a, _ = services.api_key_create(name="alpha-dispatch", carrier=carrier_a)
    key_b, _ = services.api_key_create(name="beta-dispatch", carrier=carrier_b)
    rows = {
        "carrier": (Row(carrier_a, "Alpha Post"), Row(carrier_b, "Beta Express")),
        "officialchannel": (
            Row(carrier_a.channels.get(), "+8419001111"),
            Row(carrier_b.channels.get(), "+8419002222"),
        ),
        "staffmember": (Row(staff_a, "A001"), Row(staff_b, "B001")),
        "staffphone": (
            Row(staff_a.phones.get(number="+84912345678"), "+84912345678"),
            Row(staff_b.phones.get(), "+84933444555"),
        ),
        "deliveryassignment": (Row(assignment_a, "TRK-A-1"), Row(assignment_b, "TRK-B-1")),
        "carrieroperator": (
            Row(alice.carrier_operator, "alice"),
            Row(bob.carrier_operator, "bob"),
        ),
        "clientapikey": (Row(key_a, "alpha-dispatch"), Row(key_b, "beta-dispatch")),
    }
    return rows


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:registry_{model}_{view}", args=args)


def history_record_url(model: str, obj) -> str:
    if model in WITH_HISTORY:
        record = obj.history.earliest("history_date")
        return url(model, "simple_history", obj.pk, record.history_id)
    # No model history: the path is not a view of its own, and must not lead anywhere either.
    return f"{url(model, 'history', obj.pk)}1/"


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def form_data(response) -> dict:
    """What the browser would send back for the form on an admin add/change page, unchanged."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms.extend(inline.formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False or form.fields[name].disabled:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    data["_save"] = "Save"
    return data


def phone_prefix(data: dict, number: str) -> str:
    """The form prefix (`phones-N`) of the inline row holding `number`."""
    total = int(data["phones-TOTAL_FORMS"])
    for index in range(total):
        if data.get(f"phones-{index}-number") == number:
            return f"phones-{index}"
        if f"phones-{index}-id" in data:
            phone = StaffPhone.objects.get(pk=data[f"phones-{index}-id"])
            if phone.number == number:
                return f"phones-{index}"
    raise AssertionError(f"{number} is not on the form")


def action(client, model: str, name: str, pks, **extra) -> object:
    return client.post(
        url(model, "changelist"),
        {"action": name, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra},
    )


# --- Bob gets nothing of carrier A's ---------------------------------------------------------


@pytest.mark.parametrize("model", ALL_MODELS)
def test_bob_does_not_see_a_rows_in_the_changelist(client, world, root, bob, model):
    row_a, row_b = world[model]
    as_root = login(client, root).get(url(model, "changelist"))
    assert as_root.status_code == 200
    assert row_a.marker in text(as_root) and row_b.marker in text(as_root)

    as_bob = login(client, bob).get(url(model, "changelist"))
    if model in SUPERUSER_ONLY:
        assert as_bob.status_code == 403
    else:
        assert as_bob.status_code == 200
        assert row_b.marker in text(as_bob)
        assert row_a.marker not in text(as_bob)


@pytest.mark.parametrize("model", ["staffmember", "staffphone", "deliveryassignment"])
def test_bob_cannot_find_a_rows_by_searching(client, world, bob, model):
    row_a, _ = world[model]
    response = login(client, bob).get(url(model, "changelist"), {"q": row_a.marker})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("model", ALL_MODELS)
@pytest.mark.parametrize("view", ["change", "history"])
def test_an_a_row_is_not_found_for_bob(client, world, root, bob, model, view):
    row_a, _ = world[model]
    assert login(client, root).get(url(model, view, row_a.obj.pk)).status_code == 200
    assert login(client, bob).get(url(model, view, row_a.obj.pk)).status_code == 404


@pytest.mark.parametrize("model", ALL_MODELS)
def test_an_a_row_answers_bob_like_a_row_that_does_not_exist(client, world, bob, model):
    """404 whether the row exists or not: no redirect and no 403 telling them apart."""
    row_a, _ = world[model]
    missing = "999999" if model != "clientapikey" else "nokey.nokey"
    login(client, bob)
    for view in ("change", "history", "delete"):
        existing = client.get(url(model, view, row_a.obj.pk))
        absent = client.get(url(model, view, missing))
        assert existing.status_code == absent.status_code, view


@pytest.mark.parametrize("model", ALL_MODELS)
def test_bob_cannot_reach_a_history_record_of_a(client, world, root, bob, model):
    row_a, _ = world[model]
    record_url = history_record_url(model, row_a.obj)
    if model in WITH_HISTORY:
        assert login(client, root).get(record_url).status_code == 200
    response = login(client, bob).get(record_url, follow=True)
    assert response.status_code == 404


@pytest.mark.parametrize("model", ["staffmember", "staffphone"])
def test_nobody_reverts_through_a_history_record(client, world, alice, model):
    row_a, _ = world[model]
    response = login(client, alice).post(history_record_url(model, row_a.obj), {})
    assert response.status_code == 403


@pytest.mark.parametrize("model", ALL_MODELS)
def test_bob_cannot_delete_an_a_row(client, world, bob, model):
    row_a, _ = world[model]
    model_class = type(row_a.obj)
    login(client, bob)
    assert client.get(url(model, "delete", row_a.obj.pk)).status_code in (403, 404)
    response = client.post(url(model, "delete", row_a.obj.pk), {"post": "yes"})
    assert response.status_code in (403, 404)
    assert model_class.objects.filter(pk=row_a.obj.pk).exists()


@pytest.mark.parametrize("model", ALL_MODELS)
def test_bob_cannot_change_an_a_row_by_a_forged_post(client, world, root, bob, model):
    row_a, _ = world[model]
    page = login(client, root).get(url(model, "change", row_a.obj.pk))
    data = form_data(page)
    for name in ("full_name", "name", "label", "region", "rate_limit"):
        if name in data:
            data[name] = "forged by bob"
    before = list(type(row_a.obj).objects.filter(pk=row_a.obj.pk).values())

    response = login(client, bob).post(url(model, "change", row_a.obj.pk), data)

    assert response.status_code in (403, 404)
    assert list(type(row_a.obj).objects.filter(pk=row_a.obj.pk).values()) == before


def test_bob_is_not_offered_a_staff_or_carrier_in_add_forms(client, world, staff_a, staff_b, bob):
    login(client, bob)
    for model in ("staffmember", "deliveryassignment"):
        response = client.get(url(model, "add"))
        assert response.status_code == 200
        form = response.context["adminform"].form
        assert "carrier" not in form.fields, model  # the operator's carrier is implied
        assert "Alpha Post" not in text(response)
    staff_choices = (
        client.get(url("deliveryassignment", "add")).context["adminform"].form.fields["staff"]
    )
    assert list(staff_choices.queryset) == [staff_b]
    assert "A001" not in text(client.get(url("deliveryassignment", "add")))


def test_root_is_offered_every_carrier_and_staff(client, world, staff_a, staff_b, root):
    form = login(client, root).get(url("deliveryassignment", "add")).context["adminform"].form
    assert set(form.fields["carrier"].queryset) == set(Carrier.objects.all())
    assert set(form.fields["staff"].queryset) == {staff_a, staff_b}


@pytest.mark.parametrize("model", ["staffphone", "carrier", "carrieroperator", "clientapikey"])
def test_bob_has_no_add_form_for(client, world, bob, model):
    assert login(client, bob).get(url(model, "add")).status_code == 403


def test_a_forged_staff_post_naming_carrier_a_enrols_in_b(client, world, carrier_a, carrier_b, bob):
    login(client, bob)
    data = form_data(client.get(url("staffmember", "add")))
    data.update(
        carrier=str(carrier_a.pk),
        employee_code="A002",
        full_name="Bob's Forgery",
        **{"phones-0-number": "0912 999 000"},
    )
    response = client.post(url("staffmember", "add"), data)
    assert response.status_code == 302
    forged = StaffMember.objects.get(employee_code="A002")
    assert forged.carrier == carrier_b
    assert list(forged.phones.values_list("carrier", flat=True)) == [carrier_b.pk]
    assert not StaffMember.objects.filter(carrier=carrier_a, employee_code="A002").exists()


def test_a_forged_staff_post_reusing_an_a_code_enrols_in_b(client, world, staff_a, carrier_b, bob):
    login(client, bob)
    data = form_data(client.get(url("staffmember", "add")))
    data.update(employee_code="A001", full_name="Not An")
    assert client.post(url("staffmember", "add"), data).status_code == 302
    staff_a.refresh_from_db()
    assert staff_a.full_name == "Nguyễn Văn An"
    assert StaffMember.objects.get(carrier=carrier_b, employee_code="A001").full_name == "Not An"


def test_a_forged_assignment_naming_a_staff_is_a_form_error(client, world, staff_a, bob):
    login(client, bob)
    response = client.post(
        url("deliveryassignment", "add"),
        {"tracking_code": "TRK-X", "staff": str(staff_a.pk), "status": "pending"},
    )
    assert response.status_code == 200
    assert "staff" in response.context["adminform"].form.errors
    assert not DeliveryAssignment.objects.filter(tracking_code="TRK-X").exists()


def test_a_forged_assignment_naming_carrier_a_goes_to_b(client, world, carrier_a, staff_b, bob):
    login(client, bob)
    response = client.post(
        url("deliveryassignment", "add"),
        {
            "carrier": str(carrier_a.pk),
            "tracking_code": "TRK-X",
            "staff": str(staff_b.pk),
            "status": "pending",
        },
    )
    assert response.status_code == 302
    assert DeliveryAssignment.objects.get(tracking_code="TRK-X").carrier == staff_b.carrier


def test_bob_cannot_add_a_channel_even_naming_his_own_carrier(client, world, carrier_b, bob):
    """Official channels are the registry operators': an operator only reads them."""
    login(client, bob)
    response = client.post(
        url("officialchannel", "add"),
        {"carrier": str(carrier_b.pk), "kind": "website", "value": "https://forged.example"},
    )
    assert response.status_code == 403
    assert not OfficialChannel.objects.filter(value="https://forged.example").exists()


def test_a_forged_inline_row_cannot_revoke_an_a_phone(client, world, staff_a, staff_b, bob):
    phone_a = staff_a.phones.get(number="+84912345678")
    login(client, bob)
    data = form_data(client.get(url("staffmember", "change", staff_b.pk)))
    data.update({"phones-0-id": str(phone_a.pk), "phones-0-revoke": "on"})
    response = client.post(url("staffmember", "change", staff_b.pk), data)
    assert response.status_code == 200  # the formset refuses a row that is not staff_b's
    phone_a.refresh_from_db()
    assert phone_a.status == StaffPhone.Status.ACTIVE


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("staffmember", "terminate_selected"),
        ("staffmember", "suspend_selected"),
        ("staffphone", "revoke_selected"),
    ],
)
def test_bob_cannot_run_actions_on_a_rows(client, world, bob, model, name):
    row_a, _ = world[model]
    before = list(type(row_a.obj).objects.filter(pk=row_a.obj.pk).values())
    action(login(client, bob), model, name, [row_a.obj.pk])
    assert list(type(row_a.obj).objects.filter(pk=row_a.obj.pk).values()) == before


def test_bob_cannot_make_himself_an_operator_of_a(client, world, carrier_a, bob):
    response = login(client, bob).post(
        url("carrieroperator", "add"), {"user": str(bob.pk), "carrier": str(carrier_a.pk)}
    )
    assert response.status_code == 403
    assert CarrierOperator.objects.get(user=bob).carrier != carrier_a


def test_bob_cannot_make_a_key_for_a(client, world, carrier_a, bob):
    response = login(client, bob).post(
        url("clientapikey", "add"), {"name": "bob's", "carrier": str(carrier_a.pk)}
    )
    assert response.status_code == 403
    assert not ClientAPIKey.objects.filter(name="bob's").exists()


def test_bob_cannot_look_up_users_through_autocomplete(client, world, bob):
    response = login(client, bob).get(
        "/admin/autocomplete/",
        {"app_label": "registry", "model_name": "carrieroperator", "field_name": "user"},
    )
    assert response.status_code == 403


# --- Charlie, staff without a carrier, sees nothing; root sees everything --------------------


@pytest.fixture(params=["no permissions", "every registry permission"])
def charlie_variant(request, charlie):
    if request.param == "every registry permission":
        charlie.user_permissions.add(*Permission.objects.filter(content_type__app_label="registry"))
    return charlie


def test_charlie_sees_no_registry_in_the_admin_index(client, world, charlie_variant):
    response = login(client, charlie_variant).get(reverse("admin:index"))
    assert response.status_code == 200
    assert not [app for app in response.context["app_list"] if app["app_label"] == "registry"]


@pytest.mark.parametrize("model", ALL_MODELS)
def test_charlie_sees_no_registry_rows(client, world, charlie_variant, model):
    row_a, row_b = world[model]
    login(client, charlie_variant)
    assert client.get(url(model, "changelist")).status_code == 403
    assert client.get(url(model, "add")).status_code == 403
    for row in (row_a, row_b):
        for view in ("change", "history", "delete"):
            assert client.get(url(model, view, row.obj.pk)).status_code in (403, 404)


def test_an_operator_sees_only_their_models_in_the_index(client, world, bob):
    response = login(client, bob).get(reverse("admin:index"))
    [registry] = [app for app in response.context["app_list"] if app["app_label"] == "registry"]
    assert {entry["object_name"] for entry in registry["models"]} == {
        "Carrier",
        "OfficialChannel",
        "StaffMember",
        "StaffPhone",
        "DeliveryAssignment",
        "StaffImport",
    }


@pytest.mark.parametrize("model", ALL_MODELS)
def test_root_sees_every_row(client, world, root, model):
    login(client, root)
    for row in world[model]:
        assert client.get(url(model, "change", row.obj.pk)).status_code == 200
        assert client.get(url(model, "history", row.obj.pk)).status_code == 200
        if model in WITH_HISTORY:
            assert client.get(history_record_url(model, row.obj)).status_code == 200


# --- Alice enrols and manages her staff ------------------------------------------------------


def enrol(client, **fields) -> object:
    data = form_data(client.get(url("staffmember", "add")))
    phones = fields.pop("phones", [])
    data.update(fields)
    for index, number in enumerate(phones):
        data[f"phones-{index}-number"] = number
    data["phones-TOTAL_FORMS"] = str(max(len(phones), int(data["phones-TOTAL_FORMS"])))
    return client.post(url("staffmember", "add"), data)


def active_numbers(staff) -> list[str]:
    return sorted(staff.phones.filter(status="active").values_list("number", flat=True))


def test_alice_enrols_staff_with_two_phones_in_any_format(client, world, carrier_a, alice):
    response = enrol(
        login(client, alice),
        employee_code="A100",
        full_name="Phạm Thị Hoa",
        region="Hà Nội",
        phones=["0912 000 111", "+84 (988) 000-222"],
    )
    assert response.status_code == 302
    staff = StaffMember.objects.get(employee_code="A100")
    assert staff.carrier == carrier_a
    assert (staff.full_name, staff.status, staff.region) == ("Phạm Thị Hoa", "active", "Hà Nội")
    assert active_numbers(staff) == ["+84912000111", "+84988000222"]
    assert set(staff.phones.values_list("carrier", flat=True)) == {carrier_a.pk}
    entry = LogEntry.objects.get(object_id=str(staff.pk))
    assert entry.user == alice
    assert "+84912000111" in entry.get_change_message()


def test_alice_takes_full_width_and_international_prefixes(client, world, alice):
    enrol(
        login(client, alice),
        employee_code="A101",
        full_name="Đỗ Minh",
        phones=["０９１２ ０００ ３３３", "0084 988 000 444"],
    )
    assert active_numbers(StaffMember.objects.get(employee_code="A101")) == [
        "+84912000333",
        "+84988000444",
    ]


def test_alice_sees_who_changed_what_and_when_in_history(client, world, staff_a, alice):
    login(client, alice)
    data = form_data(client.get(url("staffmember", "change", staff_a.pk)))
    data["region"] = "Hải Phòng"
    assert client.post(url("staffmember", "change", staff_a.pk), data).status_code == 302
    record = staff_a.history.latest("history_date")
    assert record.history_user == alice

    page = text(client.get(url("staffmember", "history", staff_a.pk)))
    assert "alice" in page
    assert "Hà Nội" in page and "Hải Phòng" in page
    local = record.history_date.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert f"{local:%H:%M}" in page


def test_the_staff_history_shows_who_enrolled_and_revoked_which_number(client, world, alice):
    login(client, alice)
    enrol(client, employee_code="A100", full_name="Phạm Thị Hoa", phones=["0912000111"])
    staff = StaffMember.objects.get(employee_code="A100")
    data = form_data(client.get(url("staffmember", "change", staff.pk)))
    data[f"{phone_prefix(data, '+84912000111')}-revoke"] = "on"
    client.post(url("staffmember", "change", staff.pk), data)

    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(url("staffmember", "history", staff.pk))
    rows = response.context["phone_history"]
    assert [(record.number, record.history_type, record.history_user) for record, _ in rows] == [
        ("+84912000111", "~", alice),
        ("+84912000111", "+", alice),
    ]
    page = text(response)
    assert "+84912000111" in page and "Active" in page and "Revoked" in page


def test_a_change_of_phones_only_adds_no_empty_staff_history(client, world, staff_a, alice):
    login(client, alice)
    before = staff_a.history.count()
    data = form_data(client.get(url("staffmember", "change", staff_a.pk)))
    data[f"{phone_prefix(data, '+84912345678')}-revoke"] = "on"
    assert client.post(url("staffmember", "change", staff_a.pk), data).status_code == 302
    assert staff_a.history.count() == before
    phone_history = text(
        client.get(url("staffphone", "history", staff_a.phones.get(number="+84912345678").pk))
    )
    assert "alice" in phone_history


def test_alice_revokes_a_phone_with_the_inline_checkbox(client, world, staff_a, alice):
    login(client, alice)
    data = form_data(client.get(url("staffmember", "change", staff_a.pk)))
    data[f"{phone_prefix(data, '+84912345678')}-revoke"] = "on"
    response = client.post(url("staffmember", "change", staff_a.pk), data)
    assert response.status_code == 302
    revoked = staff_a.phones.get(number="+84912345678")
    assert revoked.status == StaffPhone.Status.REVOKED and revoked.revoked_at is not None
    assert active_numbers(staff_a) == ["+84988111222"]


def test_alice_cannot_rewrite_a_registered_number(client, world, staff_a, alice):
    """A number is the phone's identity: a different number is a new row, so history and
    revocation stay true."""
    login(client, alice)
    data = form_data(client.get(url("staffmember", "change", staff_a.pk)))
    data[f"{phone_prefix(data, '+84912345678')}-number"] = "0977 000 999"
    client.post(url("staffmember", "change", staff_a.pk), data)
    assert active_numbers(staff_a) == ["+84912345678", "+84988111222"]
    assert not StaffPhone.history.filter(number="+84977000999").exists()


def test_alice_adds_a_phone_to_existing_staff(client, world, staff_a, alice):
    login(client, alice)
    data = form_data(client.get(url("staffmember", "change", staff_a.pk)))
    initial = int(data["phones-INITIAL_FORMS"])
    data[f"phones-{initial}-number"] = "0977.000.999"
    assert client.post(url("staffmember", "change", staff_a.pk), data).status_code == 302
    assert active_numbers(staff_a) == ["+84912345678", "+84977000999", "+84988111222"]


@pytest.mark.parametrize(
    ("name", "status", "phones_after"),
    [
        ("suspend_selected", "suspended", ["+84912345678", "+84988111222"]),
        ("terminate_selected", "terminated", []),
    ],
)
def test_alice_uses_the_status_actions(client, world, staff_a, alice, name, status, phones_after):
    confirmed = {"confirm": "yes"} if name == "terminate_selected" else {}
    response = action(login(client, alice), "staffmember", name, [staff_a.pk], **confirmed)
    assert response.status_code == 302
    staff_a.refresh_from_db()
    assert staff_a.status == status
    assert active_numbers(staff_a) == phones_after
    assert staff_a.history.latest("history_date").history_user == alice
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    history = client.get(url("staffmember", "history", staff_a.pk))
    changes = [
        (change["field"], change["old"], change["new"])
        for record in history.context["page_obj"]
        for change in getattr(record, "history_delta_changes", [])
    ]
    assert ("Status", "Active", status.capitalize()) in changes


def test_terminating_asks_first_and_changes_nothing_until_confirmed(client, world, staff_a, alice):
    login(client, alice)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = action(client, "staffmember", "terminate_selected", [staff_a.pk])
    assert page.status_code == 200
    assert "Terminate these staff members?" in text(page)
    assert "A001 — Nguyễn Văn An · +84912345678 · +84988111222" in text(page)
    staff_a.refresh_from_db()
    assert staff_a.status == "active"
    assert active_numbers(staff_a) == ["+84912345678", "+84988111222"]
    # The confirmation posts back the same selection, confirmed.
    data = form_data_of(page, 'id="terminate-form"')
    assert data["_selected_action"] == [str(staff_a.pk)]
    assert data["action"] == ["terminate_selected"] and data["confirm"] == ["yes"]
    assert client.post(url("staffmember", "changelist"), data).status_code == 302
    staff_a.refresh_from_db()
    assert staff_a.status == "terminated"
    assert active_numbers(staff_a) == []


def test_the_confirmation_is_in_vietnamese(client, world, staff_a, alice):
    page = action(login(client, alice), "staffmember", "terminate_selected", [staff_a.pk])
    assert "Cho nghỉ việc các nhân viên này?" in text(page)


def test_bob_cannot_confirm_terminating_a_staff(client, world, staff_a, bob):
    action(login(client, bob), "staffmember", "terminate_selected", [staff_a.pk], confirm="yes")
    staff_a.refresh_from_db()
    assert staff_a.status == "active"


def form_data_of(response, marker: str) -> dict[str, list[str]]:
    """The hidden fields of the first form whose tag holds `marker`."""
    form = text(response).split(marker, 1)[1].split("</form>", 1)[0]
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(value)
    return data


def test_alice_reactivates_a_suspended_staff_member(client, world, staff_a, alice):
    services.staff_set_status(staff=staff_a, status="suspended")
    action(login(client, alice), "staffmember", "reactivate_selected", [staff_a.pk])
    staff_a.refresh_from_db()
    assert staff_a.status == "active"


def test_alice_revokes_phones_from_the_phone_list(client, world, staff_a, alice):
    phone = staff_a.phones.get(number="+84912345678")
    action(login(client, alice), "staffphone", "revoke_selected", [phone.pk])
    phone.refresh_from_db()
    assert phone.status == StaffPhone.Status.REVOKED


def test_an_invalid_phone_is_a_form_error(client, world, alice):
    response = enrol(
        login(client, alice),
        employee_code="A102",
        full_name="Lỗi Số",
        phones=["0912 000 555", "12ab"],
    )
    assert response.status_code == 200
    [formset] = response.context["inline_admin_formsets"]
    assert formset.formset.forms[1].errors["number"]
    assert not StaffMember.objects.filter(employee_code="A102").exists()
    assert not StaffPhone.objects.filter(number="+84912000555").exists()


def test_a_duplicate_employee_code_is_a_form_error(client, world, staff_a, alice):
    response = enrol(login(client, alice), employee_code="A001", full_name="Someone Else")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    staff_a.refresh_from_db()
    assert staff_a.full_name == "Nguyễn Văn An"


def test_the_same_code_in_another_carrier_is_fine(client, world, staff_b, alice):
    response = enrol(login(client, alice), employee_code="B001", full_name="Same Code")
    assert response.status_code == 302


def test_a_number_active_for_another_staff_member_is_a_form_error(client, world, staff_a, alice):
    response = enrol(
        login(client, alice),
        employee_code="A103",
        full_name="Trùng Số",
        phones=["0912 345 678"],
    )
    assert response.status_code == 200
    assert "+84912345678" in text(response)
    assert not StaffMember.objects.filter(employee_code="A103").exists()


def test_the_same_number_twice_on_one_form_is_a_form_error(client, world, alice):
    response = enrol(
        login(client, alice),
        employee_code="A104",
        full_name="Hai Lần",
        phones=["0912 000 666", "+84912000666"],
    )
    assert response.status_code == 200
    assert not StaffMember.objects.filter(employee_code="A104").exists()
    assert not StaffPhone.objects.filter(number="+84912000666").exists()


def test_the_number_of_a_b_staff_member_is_fine_for_a(client, world, staff_b, alice):
    response = enrol(
        login(client, alice), employee_code="A105", full_name="Hai Hãng", phones=["0933444555"]
    )
    assert response.status_code == 302


def assignment_data(staff, **extra) -> dict:
    data = {
        "tracking_code": "TRK-A-9",
        "staff": str(staff.pk),
        "status": "pending",
        "window_start_0": "",
        "window_start_1": "",
        "window_end_0": "",
        "window_end_1": "",
    }
    data.update(extra)
    return data


def test_an_assignment_stores_only_the_recipient_digest(client, world, staff_a, alice):
    login(client, alice)
    response = client.post(
        url("deliveryassignment", "add"),
        assignment_data(staff_a, recipient_phone="0901 999 888"),
    )
    assert response.status_code == 302
    assignment = DeliveryAssignment.objects.get(tracking_code="TRK-A-9")
    assert assignment.carrier == staff_a.carrier
    assert assignment.recipient_digest == recipient_digest("+84901999888")
    stored = " ".join(
        str(value)
        for value in DeliveryAssignment.objects.filter(pk=assignment.pk).values().get().values()
    )
    assert "901999888" not in stored
    assert not [e for e in LogEntry.objects.all() if "901999888" in e.change_message]
    page = text(client.get(url("deliveryassignment", "change", assignment.pk)))
    assert "901999888" not in page and assignment.recipient_digest not in page


def test_changing_an_assignment_without_a_phone_keeps_the_digest(client, world, alice):
    assignment = DeliveryAssignment.objects.get(tracking_code="TRK-A-1")
    digest = assignment.recipient_digest
    login(client, alice)
    response = client.post(
        url("deliveryassignment", "change", assignment.pk),
        assignment_data(assignment.staff, status="out_for_delivery"),
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.status, assignment.recipient_digest) == ("out_for_delivery", digest)


def test_an_invalid_recipient_phone_is_a_form_error(client, world, staff_a, alice):
    response = login(client, alice).post(
        url("deliveryassignment", "add"), assignment_data(staff_a, recipient_phone="call me")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["recipient_phone"]
    assert not DeliveryAssignment.objects.filter(tracking_code="TRK-A-9").exists()


def test_a_staff_member_who_is_not_active_cannot_take_a_parcel_as_in_the_api(
    client, world, staff_a, alice
):
    services.staff_revoke(staff=staff_a)
    response = login(client, alice).post(url("deliveryassignment", "add"), assignment_data(staff_a))
    assert response.status_code == 200
    refused = response.context["adminform"].form.non_field_errors().as_data()
    assert [error.code for error in refused] == ["staff_not_active"]
    assert not DeliveryAssignment.objects.filter(tracking_code="TRK-A-9").exists()


def test_a_duplicate_tracking_code_is_a_form_error(client, world, staff_a, alice):
    response = login(client, alice).post(
        url("deliveryassignment", "add"), assignment_data(staff_a, tracking_code="TRK-A-1")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors


def test_root_cannot_assign_a_parcel_of_a_to_staff_of_b(client, world, carrier_a, staff_b, root):
    response = login(client, root).post(
        url("deliveryassignment", "add"), assignment_data(staff_b, carrier=str(carrier_a.pk))
    )
    assert response.status_code == 200
    assert not DeliveryAssignment.objects.filter(tracking_code="TRK-A-9").exists()


def test_bob_cannot_enrol_a_hotline_as_a_staff_phone(client, world, carrier_b, bob):
    response = enrol(
        login(client, bob), employee_code="B050", full_name="Đường Dây", phones=["1900 1111"]
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors().as_data()
    assert [error.code for error in errors] == ["number_is_hotline"]
    assert not StaffMember.objects.filter(employee_code="B050").exists()


def test_an_invalid_hotline_is_a_form_error(client, world, carrier_a, root):
    response = login(client, root).post(
        url("officialchannel", "add"),
        {"carrier": str(carrier_a.pk), "kind": "hotline", "value": "not a number"},
    )
    assert response.status_code == 200
    assert not OfficialChannel.objects.filter(value__contains="number").exists()


def test_a_hotline_written_differently_is_still_a_duplicate(client, world, carrier_a, root):
    response = login(client, root).post(
        url("officialchannel", "add"),
        {"carrier": str(carrier_a.pk), "kind": "hotline", "value": "1900 1111"},
    )
    assert response.status_code == 200
    assert carrier_a.channels.count() == 1


def test_root_deletes_a_channel_and_alice_may_not(client, world, carrier_a, alice, root):
    channel = services.channel_save(carrier=carrier_a, kind="website", value="https://a.example")
    delete = url("officialchannel", "delete", channel.pk)
    assert login(client, alice).post(delete, {"post": "yes"}).status_code == 403
    assert login(client, root).post(delete, {"post": "yes"}).status_code == 302
    assert not OfficialChannel.objects.filter(pk=channel.pk).exists()


@pytest.mark.parametrize("model", ["staffmember", "staffphone", "deliveryassignment"])
def test_even_root_does_not_delete_rows_the_services_never_delete(client, world, root, model):
    """Staff are terminated, phones revoked, assignments cancelled: a deleted row would take
    its history with it and bypass registry.services."""
    row_a, _ = world[model]
    response = login(client, root).post(url(model, "delete", row_a.obj.pk), {"post": "yes"})
    assert response.status_code == 403
    assert type(row_a.obj).objects.filter(pk=row_a.obj.pk).exists()
