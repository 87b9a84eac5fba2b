"""Staff files longer than IMPORT_BACKGROUND_ROWS, driven through the admin's real pages: kept
in a StaffImport row on confirmation and imported by a Celery task after commit. The task
runs in this process here (tests/integration has it on a real worker). alice operates
carrier A, bob carrier B, root is a superuser."""

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from registry import resources, services
from registry.models import StaffImport, StaffMember
from registry.tasks import import_staff_file, sweep_pending_staff_imports
from tests.registry.test_admin_import import (
    XLSX,
    active_numbers,
    confirm,
    csv_upload,
    preview,
    xlsx_upload,
)

THRESHOLD = 5
CHANGELIST_URL = reverse("admin:registry_staffimport_changelist")


def import_url(staff_import, view="change") -> str:
    return reverse(f"admin:registry_staffimport_{view}", args=[staff_import.pk])


def staff_rows(count: int) -> list[list[str]]:
    return [
        [f"A{n:04d}", f"Nhân Viên {n}", "", "Hà Nội", f"0977 {n:06d}"] for n in range(1, count + 1)
    ]


@pytest.fixture(autouse=True)
def _small_threshold_and_in_process_tasks(settings, in_process_tasks):
    """Files stay small; the task runs at once, in this process, whatever the broker."""
    settings.IMPORT_BACKGROUND_ROWS = THRESHOLD


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        # The messages are checked in English; the admin speaks Vietnamese by default.
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return as_user


@pytest.fixture
def upload(login, alice, carrier_a, django_capture_on_commit_callbacks):
    """alice previews and confirms `rows`; returns the import, the confirmation's answer and
    the callbacks waiting for the commit, none of them run yet."""

    def confirmed(rows, upload_file=csv_upload, file_format="0"):
        client = login(alice)
        previewed = preview(client, upload_file(rows), carrier_a, file_format=file_format)
        with django_capture_on_commit_callbacks() as callbacks:
            response = confirm(client, previewed)
        return StaffImport.objects.get(), response, callbacks

    return confirmed


def run(callbacks) -> StaffImport:
    """The commit: what was enqueued runs."""
    for callback in callbacks:
        callback()
    return StaffImport.objects.get()


def page(client, staff_import) -> str:
    response = client.get(import_url(staff_import))
    assert response.status_code == 200
    return response.content.decode()


class TestConfirmation:
    def test_a_long_file_is_announced_instead_of_previewed(self, login, alice, carrier_a):
        response = preview(login(alice), csv_upload(staff_rows(6)), carrier_a)

        assert response.context["confirm_form"] is not None
        assert response.context["result"].rows == []
        page_text = response.content.decode()
        assert "This file has 6 rows, more than 5" in page_text
        assert 'class="import-preview"' not in page_text
        assert not StaffMember.objects.exists() and not StaffImport.objects.exists()

    def test_a_long_file_missing_a_column_is_refused_at_the_preview(self, login, alice, carrier_a):
        rows = [row[:2] for row in staff_rows(6)]
        upload_file = csv_upload(rows, header=["employee_code", "full_name"])
        response = preview(login(alice), upload_file, carrier_a)

        result = response.context["result"]
        assert [str(error.error) for error in result.base_errors] == [
            "The file has no column named phones."
        ]
        assert "confirm_form" not in response.context

    def test_confirming_stores_the_file_and_enqueues_it_once_after_commit(
        self, upload, alice, carrier_a
    ):
        staff_import, response, callbacks = upload(staff_rows(6))

        assert response.status_code == 302
        assert response.url == import_url(staff_import)
        assert (staff_import.status, staff_import.total_rows) == ("pending", 6)
        assert (staff_import.carrier, staff_import.uploaded_by) == (carrier_a, alice)
        assert (staff_import.file_name, staff_import.file_format) == ("staff.csv", "csv")
        assert bytes(staff_import.content).startswith(b"employee_code,")
        assert staff_import.language == "en"
        # Nothing is imported in the request, nor sent before the commit; then one task.
        assert not StaffMember.objects.exists()
        assert len(callbacks) == 1
        assert run(callbacks).status == "done"

    def test_a_file_at_the_threshold_is_still_imported_in_the_request(
        self, login, alice, carrier_a
    ):
        client = login(alice)
        previewed = preview(client, csv_upload(staff_rows(THRESHOLD)), carrier_a)
        assert len(previewed.context["result"].valid_rows()) == THRESHOLD

        response = confirm(client, previewed)

        assert response.url == reverse("admin:registry_staffmember_changelist")
        assert StaffMember.objects.filter(carrier=carrier_a).count() == THRESHOLD
        assert not StaffImport.objects.exists()

    def test_bob_cannot_confirm_a_long_file_into_carrier_a(
        self, login, bob, carrier_a, carrier_b, django_capture_on_commit_callbacks
    ):
        client = login(bob)
        previewed = preview(client, csv_upload(staff_rows(6)), carrier_b)

        with django_capture_on_commit_callbacks() as callbacks:
            response = confirm(client, previewed, carrier=carrier_a.pk)

        assert "carrier" in response.context["confirm_form"].errors
        assert not StaffImport.objects.exists() and callbacks == []


class TestTheTask:
    def test_it_imports_every_row_and_stores_the_report(self, upload, alice, carrier_a):
        staff_import, _response, callbacks = upload(staff_rows(6))

        staff_import = run(callbacks)

        assert (staff_import.status, staff_import.rows_processed) == ("done", 6)
        assert staff_import.started_at <= staff_import.finished_at
        assert staff_import.error == "" and bytes(staff_import.content) == b""
        assert staff_import.report["rows"] == [
            {"row": n, "employee_code": f"A{n:04d}", "result": "new"} for n in range(1, 7)
        ]
        assert staff_import.report["totals"]["new"] == 6
        assert StaffMember.objects.filter(carrier=carrier_a).count() == 6
        assert active_numbers(carrier_a, "A0006") == ["+84977000006"]
        # History names the uploader, as it does for a file imported in the request.
        record = StaffMember.history.get(employee_code="A0001")
        assert record.history_user == alice

    def test_it_updates_staff_already_registered(self, upload, carrier_a, staff_a):
        rows = [["A001", "Nguyễn Văn An", "", "Hà Nội", "0912 345 678"], *staff_rows(5)]
        staff_import, _response, callbacks = upload(rows)

        staff_import = run(callbacks)

        assert staff_import.report["rows"][0] == {
            "row": 1,
            "employee_code": "A001",
            "result": "update",
        }
        assert active_numbers(carrier_a, "A001") == ["+84912345678"]  # 0988 111 222 revoked

    def test_an_xlsx_file_is_imported_as_uploaded(self, upload, carrier_a):
        rows = [[4711, "Phạm Thị Hoa", None, "Hà Nội", 977000111], *staff_rows(5)]
        staff_import, _response, callbacks = upload(rows, xlsx_upload, XLSX)
        assert staff_import.file_format == "xlsx"

        assert run(callbacks).status == "done"
        assert active_numbers(carrier_a, "4711") == ["+84977000111"]

    def test_a_bad_row_imports_nothing_and_the_report_names_it(self, upload, carrier_a, staff_a):
        rows = [["A001", "Nguyễn Văn An", "", "", "0977 555 555"], *staff_rows(5)]
        rows[3][4] = "0912"  # row 4: too short
        staff_import, _response, callbacks = upload(rows)

        staff_import = run(callbacks)

        assert staff_import.status == "failed"
        assert staff_import.error == "Nothing was imported: 1 row has errors."
        [bad_row] = staff_import.report["rows"]
        assert (bad_row["row"], bad_row["employee_code"], bad_row["result"]) == (
            4,
            "A0003",
            "invalid",
        )
        assert list(bad_row["errors"]) == ["phones"]
        assert "0912" in bad_row["errors"]["phones"][0]
        assert "too_short" in bad_row["errors"]["phones"][0]
        # Not even the rows before it, nor the update of a staff member already there.
        assert list(StaffMember.objects.values_list("employee_code", flat=True)) == ["A001"]
        assert active_numbers(carrier_a, "A001") == ["+84912345678", "+84988111222"]

    def test_a_row_that_breaks_on_an_unexpected_error_is_reported(
        self, upload, carrier_a, monkeypatch
    ):
        staff_import, _response, callbacks = upload(staff_rows(6))
        real_upsert = services.staff_upsert

        def upsert(**kwargs):
            if kwargs["employee_code"] == "A0002":
                raise RuntimeError("the disk is full")
            return real_upsert(**kwargs)

        monkeypatch.setattr(services, "staff_upsert", upsert)

        staff_import = run(callbacks)

        assert staff_import.status == "failed"
        assert staff_import.report["rows"] == [
            {
                "row": 2,
                "employee_code": "A0002",
                "result": "error",
                "errors": {"__all__": ["the disk is full"]},
            }
        ]
        assert not StaffMember.objects.exists()

    def test_an_import_that_cannot_even_start_fails_rather_than_stays_running(
        self, upload, monkeypatch
    ):
        staff_import, _response, callbacks = upload(staff_rows(6))

        def unreadable(content, file_format):
            raise ValueError("not a CSV file")

        monkeypatch.setattr(resources, "read_dataset", unreadable)
        staff_import = run(callbacks)

        assert staff_import.status == "failed"
        assert "ValueError" in staff_import.error and "nothing was imported" in staff_import.error
        assert bytes(staff_import.content) == b"" and staff_import.finished_at is not None
        assert not StaffMember.objects.exists()


class TestIdempotence:
    def test_a_finished_import_is_not_run_again(self, upload):
        staff_import, _response, callbacks = upload(staff_rows(6))
        finished = run(callbacks)
        records = StaffMember.history.count()

        assert import_staff_file.apply(args=[finished.pk]).get() == "done"

        again = StaffImport.objects.get()
        assert (again.finished_at, again.report) == (finished.finished_at, finished.report)
        assert StaffMember.history.count() == records

    def test_a_failed_import_is_not_run_again(self, upload):
        rows = staff_rows(6)
        rows[0][4] = "abc"
        staff_import, _response, callbacks = upload(rows)
        assert run(callbacks).status == "failed"

        assert import_staff_file.apply(args=[staff_import.pk]).get() == "failed"
        assert not StaffMember.objects.exists()

    def test_an_import_left_running_by_a_dead_worker_is_imported_again(self, upload):
        # Its worker died mid-way: the import's transaction rolled back, its row says running.
        staff_import, _response, _callbacks = upload(staff_rows(6))
        StaffImport.objects.update(status="running", started_at=timezone.now())

        assert import_staff_file.apply(args=[staff_import.pk]).get() == "done"
        assert StaffMember.objects.count() == 6

    def test_a_task_for_an_import_that_is_gone_does_nothing(self, db):
        assert import_staff_file.apply(args=[987654]).get() == "missing"


class TestSweep:
    def test_it_enqueues_imports_still_pending_after_a_while(self, upload, settings):
        settings.SWEEP_AFTER_SECONDS = 120
        # The broker was down at the commit: the callbacks are dropped, the row is pending.
        staff_import, _response, _callbacks = upload(staff_rows(6))
        assert sweep_pending_staff_imports.apply().get() == 0  # too recent to be lost

        StaffImport.objects.update(created_at=timezone.now() - timedelta(minutes=3))

        assert sweep_pending_staff_imports.apply().get() == 1
        assert StaffImport.objects.get().status == "done"
        assert StaffMember.objects.count() == 6
        assert sweep_pending_staff_imports.apply().get() == 0

    def test_it_enqueues_a_running_import_that_stopped_making_progress(self, upload, settings):
        settings.SWEEP_AFTER_SECONDS = 120
        staff_import, _response, _callbacks = upload(staff_rows(6))
        long_ago = timezone.now() - timedelta(minutes=10)
        StaffImport.objects.update(status="running", created_at=long_ago, started_at=long_ago)
        # Its worker said how far it got just now: alive, left alone.
        services._progress_write(staff_import.pk, 3)
        assert sweep_pending_staff_imports.apply().get() == 0

        # Then nothing for longer than SWEEP_AFTER_SECONDS.
        settings.SWEEP_AFTER_SECONDS = 0
        assert sweep_pending_staff_imports.apply().get() == 1
        assert StaffImport.objects.get().status == "done"

    def test_beat_runs_the_sweep_every_minute(self):
        entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-pending-staff-imports"]
        assert entry == {"task": sweep_pending_staff_imports.name, "schedule": 60.0}


class TestAdmin:
    def test_a_running_import_shows_its_progress_and_reloads_itself(
        self, upload, login, alice, monkeypatch
    ):
        staff_import, _response, callbacks = upload(staff_rows(6))
        client = login(alice)
        pages = []
        real_upsert = services.staff_upsert

        def upsert(**kwargs):
            if kwargs["employee_code"] == "A0004":  # rows 1 to 3 are done
                pages.append(page(client, staff_import))
            return real_upsert(**kwargs)

        monkeypatch.setattr(services, "staff_upsert", upsert)
        pending = page(client, staff_import)
        run(callbacks)

        assert "Pending" in pending and "0 / 6 rows" in pending
        [running] = pages
        assert "Running" in running and "3 / 6 rows" in running
        assert '<meta http-equiv="refresh" content="3">' in running
        assert re.search(r'<a href="">\s*Reload\s*</a>', running)
        done = page(client, staff_import)
        assert "6 / 6 rows" in done and "http-equiv" not in done

    def test_the_report_of_a_finished_import_is_shown(self, upload, login, alice):
        rows = staff_rows(6)
        rows[4][2] = "fired"
        staff_import, response, callbacks = upload(rows)
        run(callbacks)

        text = page(login(alice), staff_import)

        assert "Nothing was imported: 1 row has errors." in text
        assert re.search(r"<td>5</td><td>A0005</td><td>Error</td><td><div>status: Unknown", text)
        assert "A0001" not in text  # the rows rolled back are not listed

    def test_the_operator_is_taken_to_the_import_after_confirming(self, upload, login, alice):
        staff_import, response, callbacks = upload(staff_rows(6))
        run(callbacks)

        followed = login(alice).get(response.url)

        assert "The file is imported in the background" in followed.content.decode()
        assert "6 new, 0 updated, 0 empty rows skipped." in followed.content.decode()
        assert re.search(r"<td>6</td><td>A0006</td><td>New</td>", followed.content.decode())

    def test_bob_cannot_see_alices_import(self, upload, login, root, bob):
        staff_import, _response, callbacks = upload(staff_rows(6))
        run(callbacks)
        # The same requests by someone allowed, so that a 404 cannot come from a wrong URL.
        client = login(root)
        assert client.get(import_url(staff_import)).status_code == 200
        assert client.get(import_url(staff_import, "history")).status_code == 200
        assert "staff.csv" in client.get(CHANGELIST_URL).content.decode()

        client = login(bob)
        assert client.get(import_url(staff_import)).status_code == 404
        assert client.get(import_url(staff_import, "history")).status_code == 404
        listing = client.get(CHANGELIST_URL)
        assert listing.status_code == 200 and "staff.csv" not in listing.content.decode()

    def test_nobody_adds_changes_or_deletes_an_import_in_the_admin(self, upload, login, root):
        staff_import, _response, callbacks = upload(staff_rows(6))
        run(callbacks)
        client = login(root)

        assert client.get(reverse("admin:registry_staffimport_add")).status_code == 403
        assert client.post(import_url(staff_import), {"status": "pending"}).status_code == 403
        assert client.get(import_url(staff_import, "delete")).status_code == 403
        assert StaffImport.objects.get().status == "done"

    def test_a_staff_user_without_a_carrier_sees_no_import(self, upload, login, charlie):
        staff_import, _response, _callbacks = upload(staff_rows(6))
        client = login(charlie)

        assert client.get(CHANGELIST_URL).status_code == 403
        assert client.get(import_url(staff_import)).status_code in (403, 404)
