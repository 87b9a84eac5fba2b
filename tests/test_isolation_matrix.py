"""The isolation matrix: every model in the admin and every carrier API endpoint, against
carrier B's operator (bob) and B's API key, with carrier A's rows and codes.

bob and B's key must neither read nor change anything of A. Each row of the matrix names
who may see the model (operators, each their own carrier's rows; or superusers only) and
who may change A's row, so that every refusal is checked against the same request made by
someone who is allowed: a refusal cannot pass because the URL or the form was wrong.

A model registered in the admin, or a carrier endpoint added, without its row here fails
`test_every_model_in_the_admin_is_in_the_matrix` / `test_every_carrier_endpoint_is_in_the_matrix`.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db.models import ForeignKey, ManyToManyField, OneToOneField, Q
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from simple_history.admin import SimpleHistoryAdmin

from registry import services
from registry.apikeys import HasCarrierKey
from registry.models import Carrier
from tests.admin_client import browser_form
from tests.api_client import call, make_key
from verification import services as verification_services
from verification.models import ImpersonationAlert, ScamWarning, WebhookDelivery

SCOPED = "operators see their own carrier's rows"
SUPERUSER = "superusers only"


@dataclass(frozen=True)
class Spec:
    access: str  # SCOPED or SUPERUSER
    # Who may change A's row in the admin ("alice", "root"), None when nobody may; and the
    # edits a forger makes to the change form, as a function of the world.
    owner: str | None = None
    forge: Callable[[dict], dict] = field(default=lambda world: {})


MATRIX: dict[str, Spec] = {
    "registry.carrier": Spec(SCOPED, owner="root", forge=lambda w: {"name": "Forged"}),
    "registry.officialchannel": Spec(SCOPED, owner="root", forge=lambda w: {"label": "Forged"}),
    "registry.staffmember": Spec(SCOPED, owner="alice", forge=lambda w: {"full_name": "Forged"}),
    "registry.staffphone": Spec(
        SCOPED, owner="alice", forge=lambda w: {"valid_until": "2030-01-01"}
    ),
    "registry.deliveryassignment": Spec(
        SCOPED, owner="alice", forge=lambda w: {"status": "cancelled"}
    ),
    "registry.carrieroperator": Spec(
        SUPERUSER, owner="root", forge=lambda w: {"carrier": str(w["carrier_b"].pk)}
    ),
    "registry.staffimport": Spec(SCOPED),  # written by services only; read-only here
    "registry.clientapikey": Spec(
        SUPERUSER, owner="root", forge=lambda w: {"name": "forged", "revoked": "on"}
    ),
    "verification.scamreport": Spec(SCOPED),  # written by services only; read-only here
    "verification.impersonationalert": Spec(SCOPED),
    "verification.webhookdelivery": Spec(SCOPED),
    "verification.numberclearance": Spec(SUPERUSER),  # a clearance is kept as decided
    "verification.scamwarning": Spec(
        SUPERUSER, owner="root", forge=lambda w: {"title_en": "Forged"}
    ),
    # django-axes' records of admin sign-ins: client addresses and usernames.
    "axes.accessattempt": Spec(SUPERUSER),
    "axes.accesslog": Spec(SUPERUSER),
    "axes.accessfailurelog": Spec(SUPERUSER),
    "auth.user": Spec(
        SUPERUSER, owner="root", forge=lambda w: {"first_name": "Forged", "is_superuser": "on"}
    ),
    "auth.group": Spec(SUPERUSER, owner="root", forge=lambda w: {"name": "forged"}),
}

ADMINS = {
    model._meta.label_lower: model_admin for model, model_admin in admin.site._registry.items()
}
# The models of the matrix that are in the admin (test_every_model_in_the_admin_is_in_the_matrix
# names any other).
MODELS = sorted(set(MATRIX) & set(ADMINS))
SEARCHABLE_SCOPED = [m for m in MODELS if MATRIX[m].access == SCOPED and ADMINS[m].search_fields]
WITH_HISTORY_RECORDS = [m for m in MODELS if isinstance(ADMINS[m], SimpleHistoryAdmin)]
OWNED = [m for m in MODELS if MATRIX[m].owner]
ACTIONS = [
    (model, name)
    for model in MODELS
    for name in [
        *(a if isinstance(a, str) else a.__name__ for a in ADMINS[model].actions or ()),
        *(name for name, _func in admin.site.actions),
    ]
]


def _autocomplete_sources() -> list[tuple[str, str, str]]:
    """(remote model, source model, field) for every registered model with search fields that
    some relation of any installed model points to: Django's autocomplete view answers for
    any such relation, not only for a field listed in `autocomplete_fields`."""
    found = {}
    # Sources in the admin first, for the plainest example of each.
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label_lower not in ADMINS):
        for relation in model._meta.get_fields():
            if not isinstance(relation, ForeignKey | ManyToManyField | OneToOneField):
                continue
            remote = relation.remote_field.model._meta.label_lower
            if remote in ADMINS and ADMINS[remote].search_fields and remote not in found:
                found[remote] = (remote, model._meta.label_lower, relation.name)
    return sorted(found.values())


AUTOCOMPLETE = _autocomplete_sources()


@dataclass
class Row:
    obj: object
    marker: str  # text the changelist shows for this row and for no row of the other carrier


@pytest.fixture
def world(settings, alice, bob, root, charlie, carrier_a, carrier_b, staff_a, staff_b):
    """A's rows and B's row of every model in the admin, each made by the real services
    where one writes that model."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    for carrier in (carrier_a, carrier_b):
        # No service writes a carrier's webhook: set as the webhook tests set it.
        carrier.webhook_url, carrier.webhook_secret = "http://127.0.0.1:9/hook", "s3cret"
        carrier.save(update_fields=["webhook_url", "webhook_secret"])
    assignment_a, _ = services.assignment_upsert(
        carrier=carrier_a, tracking_code="TRK-A-1", staff=staff_a, recipient_phone="0907 111 111"
    )
    assignment_b, _ = services.assignment_upsert(
        carrier=carrier_b, tracking_code="TRK-B-1", staff=staff_b, recipient_phone="0907 222 222"
    )
    verification_services.call_intent_create(
        carrier=carrier_a, employee_code="A001", phone="0912345678", recipient_phone="0907111111"
    )
    imports = [
        services.staff_import_create(
            carrier=carrier,
            uploaded_by=operator,
            file_name=f"{carrier.slug}-staff.csv",
            file_format="csv",
            content=b"employee_code,full_name,phones\nX001,Someone,0912000111\n",
            total_rows=1,
        )
        for carrier, operator in [(carrier_a, alice), (carrier_b, bob)]
    ]
    key_a, _ = services.api_key_create(name="alpha-dispatch", carrier=carrier_a)
    key_b, _ = services.api_key_create(name="beta-dispatch", carrier=carrier_b)
    report_a = verification_services.report_receive(
        reporter_kind="ip",
        reporter_id="203.0.113.1",
        number="0901 000 111",
        claimed_carrier="alpha-post",
    )
    spoof_a = verification_services.report_receive(
        reporter_kind="ip", reporter_id="203.0.113.2", number="0912 345 678"
    )
    report_b = verification_services.report_receive(
        reporter_kind="ip",
        reporter_id="203.0.113.3",
        number="0902 000 222",
        claimed_carrier="beta-express",
    )
    alert_a = carrier_a.alerts.get()
    alert_b = carrier_b.alerts.get()
    delivery_a, delivery_b = alert_a.deliveries.get(), alert_b.deliveries.get()
    verification_services.webhook_attempt(delivery_id=delivery_a.pk)  # unreachable: failed
    delivery_a.refresh_from_db()
    assert delivery_a.status == WebhookDelivery.Status.FAILED
    clearance_a = verification_services.number_clear(
        number="0901 000 111", reason="Alpha number reassigned", user=root
    )
    clearance_b = verification_services.number_clear(
        number="0902 000 222", reason="Beta number reassigned", user=root
    )
    # Neither has a service: the admin is their only writer.
    warning_a = ScamWarning.objects.create(
        title_vi="Cảnh báo Alpha", title_en="Alpha warning", body_vi="…", body_en="…"
    )
    warning_b = ScamWarning.objects.create(
        title_vi="Cảnh báo Beta", title_en="Beta warning", body_vi="…", body_en="…"
    )
    group_a, group_b = Group.objects.create(name="alpha-ops"), Group.objects.create(name="beta-ops")
    # Real sign-ins to the admin, each from its own address: a success, then a failure. The
    # failure log is off in our settings, but its admin is there: on, so that it has rows.
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    sign_ins = {}
    for user, address in [(alice, "198.51.100.11"), (bob, "198.51.100.22")]:
        browser = Client(REMOTE_ADDR=address)
        for password in (f"{user.username}-password", "wrong-password"):
            browser.post(reverse("admin:login"), {"username": user.username, "password": password})
        sign_ins[user.username] = {
            model: Row(model.objects.get(ip_address=address), address)
            for model in (AccessAttempt, AccessLog, AccessFailureLog)
        }
    rows = {
        "registry.carrier": ([Row(carrier_a, "Alpha Post")], Row(carrier_b, "Beta Express")),
        "registry.officialchannel": (
            [Row(carrier_a.channels.get(), "+8419001111")],
            Row(carrier_b.channels.get(), "+8419002222"),
        ),
        "registry.staffmember": ([Row(staff_a, "A001")], Row(staff_b, "B001")),
        "registry.staffphone": (
            [Row(phone, phone.number) for phone in staff_a.phones.all()],
            Row(staff_b.phones.get(), "+84933444555"),
        ),
        "registry.deliveryassignment": (
            [Row(assignment_a, "TRK-A-1")],
            Row(assignment_b, "TRK-B-1"),
        ),
        "registry.carrieroperator": (
            [Row(alice.carrier_operator, "alice")],
            Row(bob.carrier_operator, "bob"),
        ),
        "registry.staffimport": (
            [Row(imports[0], "alpha-post-staff.csv")],
            Row(imports[1], "beta-express-staff.csv"),
        ),
        "registry.clientapikey": ([Row(key_a, "alpha-dispatch")], Row(key_b, "beta-dispatch")),
        "verification.scamreport": (
            [Row(report_a, "+84901000111"), Row(spoof_a, "+84912345678")],
            Row(report_b, "+84902000222"),
        ),
        "verification.impersonationalert": (
            [Row(alert_a, "+84901000111")],
            Row(alert_b, "+84902000222"),
        ),
        "verification.webhookdelivery": (
            [Row(delivery_a, str(delivery_a.event_id))],
            Row(delivery_b, str(delivery_b.event_id)),
        ),
        "verification.numberclearance": (
            [Row(clearance_a, "Alpha number reassigned")],
            Row(clearance_b, "Beta number reassigned"),
        ),
        "verification.scamwarning": (
            [Row(warning_a, "Alpha warning")],
            Row(warning_b, "Beta warning"),
        ),
        **{
            model._meta.label_lower: ([sign_ins["alice"][model]], sign_ins["bob"][model])
            for model in (AccessAttempt, AccessLog, AccessFailureLog)
        },
        "auth.user": ([Row(alice, "alice")], Row(bob, "bob")),
        "auth.group": ([Row(group_a, "alpha-ops")], Row(group_b, "beta-ops")),
    }
    return {
        "rows": rows,
        "users": {"alice": alice, "bob": bob, "root": root, "charlie": charlie},
        "carrier_a": carrier_a,
        "carrier_b": carrier_b,
    }


def url(model: str, view: str, *args) -> str:
    app_label, model_name = model.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def missing_pk(model: str) -> str:
    """A primary key no row has."""
    pk = apps.get_model(model)._meta.pk
    return "missing.pk" if pk.get_internal_type() == "CharField" else "999999"


def as_user(client, user):
    client.force_login(user)
    return client


def snapshot(obj) -> dict:
    """The row, every row pointing at it, its many-to-many links and its history records:
    what any write to or through it would change."""
    model = type(obj)
    state = {model._meta.label: list(model._base_manager.filter(pk=obj.pk).values())}
    for relation in model._meta.related_objects:
        related = relation.related_model
        rows = related._base_manager.filter(**{relation.field.name: obj.pk}).order_by("pk")
        state[f"{related._meta.label}.{relation.field.name}"] = list(rows.values())
    for many in model._meta.many_to_many:
        state[f"m2m.{many.name}"] = sorted(getattr(obj, many.name).values_list("pk", flat=True))
    if hasattr(model, "history"):
        state["history"] = list(model.history.filter(id=obj.pk).order_by("pk").values())
    return state


def snapshots(rows: list[Row]) -> list[dict]:
    return [snapshot(row.obj) for row in rows]


def page(response) -> str:
    return response.content.decode()


# --- The matrix is the admin ------------------------------------------------------------------


def test_every_model_in_the_admin_is_in_the_matrix():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(MATRIX), (
        "A model was added to or removed from the admin: give it its row in MATRIX "
        f"(missing: {sorted(registered - set(MATRIX))}, stale: {sorted(set(MATRIX) - registered)})"
    )


@pytest.mark.parametrize("user", ["bob", "charlie", "root"])
def test_the_admin_index_offers_each_user_what_the_matrix_says(client, world, user):
    response = as_user(client, world["users"][user]).get(reverse("admin:index"))
    offered = {
        f"{app['app_label']}.{entry['object_name'].lower()}"
        for app in response.context["app_list"]
        for entry in app["models"]
    }
    expected = {
        "bob": {model for model in MODELS if MATRIX[model].access == SCOPED},
        "charlie": set(),
        "root": set(MODELS),
    }[user]
    assert offered == expected


# --- bob reads nothing of A's -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_bob_s_changelist_lists_none_of_a_s_rows(client, world, model):
    rows_a, row_b = world["rows"][model]
    as_root = as_user(client, world["users"]["root"]).get(url(model, "changelist"))
    assert as_root.status_code == 200
    for row in [*rows_a, row_b]:
        assert row.marker in page(as_root)

    as_bob = as_user(client, world["users"]["bob"]).get(url(model, "changelist"))
    if MATRIX[model].access == SUPERUSER:
        assert as_bob.status_code == 403
        return
    assert as_bob.status_code == 200
    assert row_b.marker in page(as_bob)
    for row in rows_a:
        assert row.marker not in page(as_bob)


@pytest.mark.parametrize("model", SEARCHABLE_SCOPED)
def test_bob_finds_none_of_a_s_rows_by_searching(client, world, model):
    rows_a, row_b = world["rows"][model]
    as_user(client, world["users"]["bob"])
    found_b = client.get(url(model, "changelist"), {"q": row_b.marker})
    assert found_b.context["cl"].result_count >= 1
    for row in rows_a:
        response = client.get(url(model, "changelist"), {"q": row.marker})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("view", ["change", "history", "delete"])
@pytest.mark.parametrize("model", MODELS)
def test_bob_gets_no_page_of_a_s_rows_and_cannot_tell_them_from_missing_ones(
    client, world, model, view
):
    rows_a, row_b = world["rows"][model]
    as_root = as_user(client, world["users"]["root"])
    for row in rows_a:
        # The URL is right and the row is there: root gets the page (or, for a model whose
        # rows nobody deletes, a 403 of the delete page).
        expected = (200, 403) if view == "delete" else (200,)
        assert as_root.get(url(model, view, row.obj.pk)).status_code in expected

    as_bob = as_user(client, world["users"]["bob"])
    if MATRIX[model].access == SCOPED and view == "change":
        assert as_bob.get(url(model, view, row_b.obj.pk)).status_code == 200
    absent = as_bob.get(url(model, view, missing_pk(model)))
    for row in rows_a:
        response = as_bob.get(url(model, view, row.obj.pk))
        assert response.status_code in (403, 404)
        assert response.status_code == absent.status_code
        assert row.marker not in page(response)


@pytest.mark.parametrize("model", WITH_HISTORY_RECORDS)
def test_bob_cannot_open_a_history_record_of_a_s_rows(client, world, model):
    rows_a, _row_b = world["rows"][model]
    for row in rows_a:
        record = type(row.obj).history.filter(id=row.obj.pk).earliest("history_date")
        record_url = url(model, "simple_history", row.obj.pk, record.history_id)
        assert as_user(client, world["users"]["root"]).get(record_url).status_code == 200
        response = as_user(client, world["users"]["bob"]).get(record_url, follow=True)
        assert response.status_code in (403, 404)
        assert row.marker not in page(response)


@pytest.mark.parametrize(("remote", "source", "field_name"), AUTOCOMPLETE)
def test_bob_s_autocomplete_offers_none_of_a_s_rows(client, world, remote, source, field_name):
    """Django's autocomplete answers for any relation of any model to a searchable admin."""
    rows_a, row_b = world["rows"][remote]
    app_label, model_name = source.split(".")
    query = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    endpoint = reverse("admin:autocomplete")

    def offered(user) -> tuple[int, set[str]]:
        response = as_user(client, world["users"][user]).get(endpoint, query)
        if response.status_code != 200:
            return response.status_code, set()
        return 200, {result["id"] for result in response.json()["results"]}

    status, by_root = offered("root")
    assert status == 200 and {str(row.obj.pk) for row in rows_a} <= by_root
    status, by_bob = offered("bob")
    assert status in (200, 403)
    assert not {str(row.obj.pk) for row in rows_a} & by_bob
    if MATRIX[remote].access == SCOPED:
        assert str(row_b.obj.pk) in by_bob


# --- bob changes nothing of A's ---------------------------------------------------------------


def forged_change(client, world, model: str, row: Row) -> dict:
    """root's change form of `row` as a browser sends it back, with the forger's edits."""
    form_page = as_user(client, world["users"]["root"]).get(url(model, "change", row.obj.pk))
    data = browser_form(form_page, f"{model.split('.')[1]}_form")
    data.update({name: [value] for name, value in MATRIX[model].forge(world).items()})
    return data


@pytest.mark.parametrize("model", MODELS)
def test_a_change_form_forged_by_bob_changes_nothing_of_a(client, world, model):
    rows_a, _row_b = world["rows"][model]
    for row in rows_a:
        data = forged_change(client, world, model, row)
        before = snapshot(row.obj)
        response = as_user(client, world["users"]["bob"]).post(
            url(model, "change", row.obj.pk), data
        )
        assert response.status_code in (403, 404)
        assert snapshot(row.obj) == before


@pytest.mark.parametrize("model", OWNED)
def test_the_same_change_form_sent_by_who_may_change_a_does_change_it(client, world, model):
    """The control of the test above: the forged form is one the admin accepts."""
    rows_a, _row_b = world["rows"][model]
    row = rows_a[0]
    data = forged_change(client, world, model, row)
    before = snapshot(row.obj)
    owner = world["users"][MATRIX[model].owner]
    response = as_user(client, owner).post(url(model, "change", row.obj.pk), data)
    assert response.status_code == 302, response.context and response.context.get("errors")
    assert snapshot(row.obj) != before


@pytest.mark.parametrize("model", MODELS)
def test_bob_cannot_delete_a_s_rows(client, world, model):
    rows_a, _row_b = world["rows"][model]
    as_bob = as_user(client, world["users"]["bob"])
    for row in rows_a:
        before = snapshot(row.obj)
        response = as_bob.post(url(model, "delete", row.obj.pk), {"post": "yes"})
        assert response.status_code in (403, 404)
        assert snapshot(row.obj) == before


@pytest.mark.parametrize(("model", "action"), ACTIONS)
def test_bob_s_admin_actions_on_a_s_rows_change_nothing(client, world, model, action):
    rows_a, _row_b = world["rows"][model]
    before = snapshots(rows_a)
    response = as_user(client, world["users"]["bob"]).post(
        url(model, "changelist"),
        {
            "action": action,
            "_selected_action": [str(row.obj.pk) for row in rows_a],
            "index": "0",
            "post": "yes",  # delete_selected's confirmation
        },
    )
    assert response.status_code in (200, 302, 403)
    assert snapshots(rows_a) == before


# --- charlie, staff without a carrier, gets nothing at all ------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_charlie_gets_no_page_of_any_row(client, world, model):
    rows_a, row_b = world["rows"][model]
    as_charlie = as_user(client, world["users"]["charlie"])
    assert as_charlie.get(url(model, "changelist")).status_code == 403
    for row in [*rows_a, row_b]:
        for view in ("change", "history", "delete"):
            response = as_charlie.get(url(model, view, row.obj.pk))
            assert response.status_code in (403, 404)
            assert row.marker not in page(response)


# --- The carrier API: B's key with A's codes --------------------------------------------------

STAFF = "/api/v1/carrier/staff/<str:employee_code>/"
ASSIGNMENTS = "/api/v1/carrier/assignments/"
CALL_INTENTS = "/api/v1/carrier/call-intents/"
LABELS = "/api/v1/carrier/labels/"

# A's identifiers, and identifiers no carrier has: B's answer must be the same for both.
# `fresh` is a number nobody has, one per run of an attempt, for B to register.
A_CODES = {"employee": "A001", "tracking": "TRK-A-1", "phone": "0912345678", "fresh": "0933000111"}
NO_CODES = {"employee": "Z999", "tracking": "TRK-Z-9", "phone": "0966000999", "fresh": "0933000222"}
# Of A's data, what no answer to B may hold.
A_SECRETS = ["Nguyễn Văn An", "Hà Nội", "+84988111222", "alpha-post", "Alpha Post"]


@dataclass(frozen=True)
class Attempt:
    endpoint: tuple[str, str]  # (method, route) as the URLconf has it
    make: Callable[[dict], tuple[str, dict | None]]  # codes -> (path, body)
    a_key_changes_a: bool  # the same request with A's key does change A (the control)


def staff_path(codes: dict) -> str:
    return f"/api/v1/carrier/staff/{codes['employee']}/"


ATTEMPTS = {
    "put staff under A's code": Attempt(
        ("PUT", STAFF),
        lambda c: (
            staff_path(c),
            {"full_name": "Kẻ Mạo Danh", "phones": [c["fresh"]], "status": "active"},
        ),
        a_key_changes_a=True,
    ),
    "put staff under A's code with A's phone": Attempt(
        ("PUT", STAFF),
        lambda c: (
            staff_path(c),
            {"full_name": "Kẻ Mạo Danh", "phones": [c["phone"]], "status": "suspended"},
        ),
        a_key_changes_a=True,
    ),
    "delete A's staff": Attempt(
        ("DELETE", STAFF), lambda c: (staff_path(c), None), a_key_changes_a=True
    ),
    "assign A's parcel to A's staff": Attempt(
        ("POST", ASSIGNMENTS),
        lambda c: (
            ASSIGNMENTS,
            {
                "assignments": [
                    {
                        "tracking_code": c["tracking"],
                        "employee_code": c["employee"],
                        "recipient_phone": "0907 999 999",
                        "status": "cancelled",
                    }
                ]
            },
        ),
        a_key_changes_a=True,
    ),
    "assign A's tracking code to B's staff": Attempt(
        ("POST", ASSIGNMENTS),
        lambda c: (
            ASSIGNMENTS,
            {
                "assignments": [
                    {"tracking_code": c["tracking"], "employee_code": "B001", "status": "cancelled"}
                ]
            },
        ),
        a_key_changes_a=False,  # B001 is no staff of A's
    ),
    "announce a call of A's staff": Attempt(
        ("POST", CALL_INTENTS),
        lambda c: (
            CALL_INTENTS,
            {
                "employee_code": c["employee"],
                "phone": c["phone"],
                "recipient_phone": "0907 999 999",
            },
        ),
        a_key_changes_a=True,
    ),
    "announce a call from A's phone as B's staff": Attempt(
        ("POST", CALL_INTENTS),
        lambda c: (
            CALL_INTENTS,
            {"employee_code": "B001", "phone": c["phone"], "recipient_phone": "0907 999 999"},
        ),
        a_key_changes_a=False,
    ),
    "announce a call about A's parcel": Attempt(
        ("POST", CALL_INTENTS),
        lambda c: (
            CALL_INTENTS,
            {
                "employee_code": "B001",
                "phone": "0933 444 555",
                "recipient_phone": "0907 111 111",
                "tracking_code": c["tracking"],
            },
        ),
        a_key_changes_a=False,
    ),
    "print a label of A's parcel": Attempt(
        ("POST", LABELS),
        lambda c: (
            LABELS,
            {
                "tracking_code": c["tracking"],
                "recipient_name": "Kẻ Mạo Danh",
                "recipient_phone": "0907 111 111",
                "address_lines": ["1 Phố Huế"],
            },
        ),
        # A's own label of its parcel prints and writes nothing (the digest is already there):
        # tests/registry/test_labels_api.py holds its control.
        a_key_changes_a=False,
    ),
}


def _carrier_endpoints() -> set[tuple[str, str]]:
    """(method, route) of every view that takes a carrier key, from the URLconf itself."""
    found = set()

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                view = getattr(entry.callback, "view_class", None)
                if view is None or not any(
                    issubclass(permission, HasCarrierKey)
                    for permission in getattr(view, "permission_classes", [])
                ):
                    continue
                for method in view.http_method_names:
                    if method not in {"options", "head"} and hasattr(view, method):
                        found.add((method.upper(), "/" + prefix + str(entry.pattern)))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_carrier_endpoint_is_in_the_matrix():
    assert _carrier_endpoints() == {attempt.endpoint for attempt in ATTEMPTS.values()}


def a_state(carrier: Carrier) -> dict:
    """Every row of carrier A, in every table of the project (history included): whatever
    points at the carrier, directly or through one relation."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label not in {"registry", "verification"}:
            continue
        condition = Q(pk=carrier.pk) if model is Carrier else Q()
        for relation in model._meta.get_fields():
            if not isinstance(relation, ForeignKey):
                continue
            if relation.related_model is Carrier:
                condition |= Q(**{relation.name: carrier.pk})
                continue
            for hop in relation.related_model._meta.get_fields():
                if isinstance(hop, ForeignKey) and hop.related_model is Carrier:
                    condition |= Q(**{f"{relation.name}__{hop.name}": carrier.pk})
        if condition:
            rows = model._base_manager.filter(condition).distinct().order_by("pk")
            # B may enrol a number A's shipper uses too (one shipper, several carriers): A is
            # then told so by a shared_number alert and its webhook (tests/test_trust.py).
            if model is ImpersonationAlert:
                rows = rows.exclude(kind=ImpersonationAlert.Kind.SHARED_NUMBER)
            elif model is WebhookDelivery:
                rows = rows.exclude(alert__kind=ImpersonationAlert.Kind.SHARED_NUMBER)
            state[model._meta.label] = list(rows.values())
    return state


def send(client, key: str, attempt: Attempt, codes: dict):
    method = attempt.endpoint[0]
    path, body = attempt.make(codes)
    return call(client, method, path, key, body)


def answer_without(response, codes: dict) -> str:
    """The answer with the identifiers sent replaced by placeholders, to compare answers
    about A's codes with answers about codes nobody has."""
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("expires_at", None)  # a time, not data
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    for name, value in codes.items():
        text = text.replace(value, f"<{name}>")
        if value.startswith("0"):  # a phone, which answers come back with in E.164
            text = text.replace("+84" + value[1:], f"<{name}>")
    return f"{response.status_code} {text}"


@pytest.fixture
def keys(world):
    return {
        "a": make_key(world["carrier_a"], "alpha-api"),
        "b": make_key(world["carrier_b"], "beta-api"),
    }


@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_b_s_key_with_a_s_codes_reads_and_changes_nothing_of_a(client, world, keys, name):
    attempt = ATTEMPTS[name]
    before = a_state(world["carrier_a"])

    response = send(client, keys["b"], attempt, A_CODES)

    assert response.status_code < 500
    assert a_state(world["carrier_a"]) == before
    for secret in A_SECRETS:
        assert secret not in answer_without(response, A_CODES)
    # Exactly what B hears about codes that nobody has: nothing tells B that A has them.
    assert answer_without(response, A_CODES) == answer_without(
        send(client, keys["b"], attempt, NO_CODES), NO_CODES
    )


@pytest.mark.parametrize(
    "name", [name for name, attempt in ATTEMPTS.items() if attempt.a_key_changes_a]
)
def test_the_same_request_with_a_s_key_does_change_a(client, world, keys, name):
    """The control of the test above: these requests are ones that work, for A."""
    before = a_state(world["carrier_a"])
    response = send(client, keys["a"], ATTEMPTS[name], A_CODES)
    assert response.status_code in (200, 201, 204), response.content
    assert a_state(world["carrier_a"]) != before
