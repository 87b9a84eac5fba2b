"""A long staff file imported by a real Celery worker through the real Redis broker, while
the operator watches its progress in the admin; and what happens when two tasks meet one
import, with real PostgreSQL row locks."""

import re
import threading
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from registry import services
from registry.models import StaffImport, StaffMember, StaffPhone
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROWS = 3000  # over the default IMPORT_BACKGROUND_ROWS (2000), which is left as it is
STALL_SECONDS = 120  # no row imported for this long: the worker is stuck
HEADER = "employee_code,full_name,status,region,phones"


def staff_file(count: int) -> bytes:
    lines = [HEADER] + [
        f'W{n:05d},"Nhân Viên {n}",,Hà Nội,"0977 {n:06d}; +84 988 {n:06d}"'
        for n in range(1, count + 1)
    ]
    return "\n".join(lines).encode()


def progress_of(page: str) -> tuple[int, int]:
    processed, total = re.search(r"(\d+) / (\d+) rows", page).groups()
    return int(processed), int(total)


def test_the_worker_imports_a_long_file_while_the_operator_watches(
    celery_worker_process, client, alice, carrier_a
):
    assert ROWS > settings.IMPORT_BACKGROUND_ROWS
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    upload = SimpleUploadedFile("staff.csv", staff_file(ROWS), content_type="text/csv")
    previewed = client.post(
        reverse("admin:registry_staffmember_import"),
        {"import_file": upload, "format": "0", "carrier": carrier_a.pk},
    )
    form = previewed.context["confirm_form"]
    confirmed = client.post(
        reverse("admin:registry_staffmember_process_import"),
        {name: form[name].value() for name in form.fields},
    )
    assert confirmed.status_code == 302
    staff_import = StaffImport.objects.get()
    seen = []

    def finished():
        """the import to finish, as its admin page shows it, while its progress moves"""
        page = client.get(confirmed.url).content.decode()
        seen.append((time.monotonic(), *progress_of(page)))
        if "http-equiv" not in page:
            return page
        # A loaded machine makes the worker slow, not stuck: fail on a stall only.
        moved_at = min(at for at, processed, _ in seen if processed == seen[-1][1])
        assert time.monotonic() - moved_at < STALL_SECONDS, f"no progress past {seen[-1][1]}"
        return None

    page = wait_for(finished, timeout=900, interval=0.5)
    seen = [(processed, total) for _at, processed, total in seen]

    staff_import.refresh_from_db()
    assert (staff_import.status, staff_import.rows_processed) == ("done", ROWS), staff_import.error
    assert StaffMember.objects.filter(carrier=carrier_a).count() == ROWS
    assert StaffPhone.objects.filter(carrier=carrier_a, status="active").count() == 2 * ROWS
    assert f"{ROWS} new, 0 updated" in page
    assert f"<td>{ROWS}</td><td>W{ROWS:05d}</td><td>New</td>" in page
    # The progress was seen between the first and the last row, read while the worker's
    # transaction was still open; and it never went backwards.
    assert any(0 < processed < ROWS for processed, _total in seen), seen
    assert [processed for processed, _ in seen] == sorted(processed for processed, _ in seen)
    assert {total for _processed, total in seen} == {ROWS}


def test_a_task_for_an_import_another_worker_is_running_does_nothing(carrier_a, alice):
    # Written straight to the table, with no task sent for it: the session's real worker
    # must not pick this import up while the test plays both workers itself.
    staff_import = StaffImport.objects.create(
        carrier=carrier_a,
        uploaded_by=alice,
        file_name="staff.csv",
        file_format="csv",
        content=staff_file(3),
        total_rows=3,
        language="en",
    )
    staff_import.status = StaffImport.Status.RUNNING
    staff_import.save(update_fields=["status"])
    outcome = {}

    def second_task():
        try:
            outcome["import"] = services.staff_import_run(import_id=staff_import.pk)
        finally:
            connection.close()

    # The first worker holds the import's row locked, as it does while it imports.
    with transaction.atomic():
        StaffImport.objects.select_for_update().get(pk=staff_import.pk)
        thread = threading.Thread(target=second_task)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the second task waited for the lock"

    assert outcome["import"].status == "running"
    assert not StaffMember.objects.exists()
    # Once the lock is gone, as it is when a worker dies, the import is run again.
    assert services.staff_import_run(import_id=staff_import.pk).status == "done"
    assert StaffMember.objects.count() == 3
