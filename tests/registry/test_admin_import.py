"""The staff import of the admin, driven through its real pages: upload (a dry run that
previews), then confirm. alice operates carrier A, bob carrier B, root is a superuser."""

import io
import re

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from registry import services
from registry.models import StaffMember, StaffPhone

IMPORT_URL = reverse("admin:registry_staffmember_import")
CONFIRM_URL = reverse("admin:registry_staffmember_process_import")
CHANGELIST_URL = reverse("admin:registry_staffmember_changelist")
CSV, XLSX = "0", "1"  # the format choices, in the order of resources.IMPORT_FORMATS
HEADER = ["employee_code", "full_name", "status", "region", "phones"]


def csv_upload(rows, header=HEADER) -> SimpleUploadedFile:
    lines = [",".join(header)] + [",".join(f'"{cell}"' for cell in row) for row in rows]
    return SimpleUploadedFile("staff.csv", "\n".join(lines).encode(), content_type="text/csv")


def xlsx_upload(rows, header=HEADER) -> SimpleUploadedFile:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    content = io.BytesIO()
    book.save(content)
    return SimpleUploadedFile(
        "staff.xlsx",
        content.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        # The messages are checked in English; the admin speaks Vietnamese by default.
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return as_user


def preview(client, upload, carrier, file_format=CSV):
    """The upload step: a dry run that shows what the import would do."""
    data = {"import_file": upload, "format": file_format}
    if carrier is not None:
        data["carrier"] = carrier.pk
    return client.post(IMPORT_URL, data)


def confirm(client, preview_response, **forged):
    """The confirmation step, posting the hidden fields the preview page holds."""
    confirm_form = preview_response.context["confirm_form"]
    data = {name: confirm_form[name].value() for name in confirm_form.fields}
    return client.post(CONFIRM_URL, {**data, **forged})


def import_types(response) -> list[tuple[str, str]]:
    """(import type, employee code) of each row the preview would write."""
    result = response.context["result"]
    return [(row.import_type, row.instance.employee_code) for row in result.valid_rows()]


def after_import(diff_html: str) -> str:
    """The text a preview cell shows once its deletions are left out."""
    return re.sub(r"<[^>]+>", "", re.sub(r"<del[^>]*>.*?</del>", "", diff_html))


def row_errors(response) -> dict[int, dict[str, list[str]]]:
    """{row number: {column: [error codes]}} of the rows refused."""
    return {
        row.number: {
            field: [error.code for error in errors]
            for field, errors in row.error.error_dict.items()
        }
        for row in response.context["result"].invalid_rows
    }


def row_messages(response, number: int) -> str:
    for row in response.context["result"].invalid_rows:
        if row.number == number:
            return " ".join(message for ms in row.error_dict.values() for message in ms)
    raise AssertionError(f"row {number} has no error")


def active_numbers(carrier, employee_code) -> list[str]:
    return sorted(
        StaffPhone.objects.filter(
            staff__carrier=carrier, staff__employee_code=employee_code, status="active"
        ).values_list("number", flat=True)
    )


NEW_STAFF = [
    ["A101", "Phạm Thị Hoa", "", "Hà Nội", "0977 000 111; +84 977 000 222"],
    ["A102", "Lê Văn Minh", "suspended", "", "84977000333"],
]


class TestAccess:
    def test_the_staff_list_shows_the_import_button_to_an_operator(self, login, alice):
        response = login(alice).get(CHANGELIST_URL)
        assert response.status_code == 200
        assert IMPORT_URL in response.content.decode()

    def test_a_staff_user_without_a_carrier_cannot_open_the_import(self, login, charlie):
        response = login(charlie).get(IMPORT_URL)
        assert response.status_code == 403

    def test_an_operator_is_offered_their_own_carrier_only(self, login, alice, carrier_b):
        response = login(alice).get(IMPORT_URL)
        field = response.context["form"].fields["carrier"]
        assert [carrier.slug for carrier in field.queryset] == ["alpha-post"]
        assert field.empty_label is None

    def test_bob_cannot_preview_an_import_into_carrier_a(self, login, bob, carrier_a):
        response = preview(login(bob), csv_upload(NEW_STAFF), carrier_a)
        assert response.status_code == 200
        assert "carrier" in response.context["form"].errors
        assert "result" not in response.context
        assert not StaffMember.objects.filter(carrier=carrier_a).exists()

    def test_bob_cannot_confirm_an_import_into_carrier_a(self, login, bob, carrier_a, carrier_b):
        client = login(bob)
        previewed = preview(client, csv_upload(NEW_STAFF), carrier_b)
        assert previewed.context["confirm_form"] is not None

        response = confirm(client, previewed, carrier=carrier_a.pk)

        assert response.status_code == 200
        assert "carrier" in response.context["confirm_form"].errors
        assert not StaffMember.objects.filter(employee_code__in=["A101", "A102"]).exists()

    def test_a_carrier_column_in_the_file_is_ignored(self, login, alice, carrier_a, carrier_b):
        client = login(alice)
        rows = [[*row, "beta-express"] for row in NEW_STAFF]
        previewed = preview(client, csv_upload(rows, header=[*HEADER, "carrier"]), carrier_a)
        confirm(client, previewed)
        assert sorted(StaffMember.objects.values_list("carrier__slug", flat=True)) == [
            "alpha-post",
            "alpha-post",
        ]

    def test_a_superuser_picks_the_carrier(self, login, root, carrier_a, carrier_b):
        client = login(root)
        previewed = preview(client, csv_upload(NEW_STAFF), carrier_b)
        response = confirm(client, previewed)
        assert response.status_code == 302
        assert sorted(StaffMember.objects.values_list("carrier__slug", "employee_code")) == [
            ("beta-express", "A101"),
            ("beta-express", "A102"),
        ]

    def test_a_superuser_must_pick_a_carrier(self, login, root, carrier_a):
        response = preview(login(root), csv_upload(NEW_STAFF), None)
        assert "carrier" in response.context["form"].errors
        assert not StaffMember.objects.exists()

    def test_the_same_code_in_another_carrier_is_a_new_staff_member(
        self, login, alice, carrier_a, staff_b
    ):
        client = login(alice)
        previewed = preview(
            client, csv_upload([["B001", "Đỗ Văn Nam", "", "", "0977000444"]]), carrier_a
        )
        assert import_types(previewed) == [("new", "B001")]
        confirm(client, previewed)
        staff_b.refresh_from_db()
        assert staff_b.full_name == "Trần Thị Bình"
        assert active_numbers(staff_b.carrier, "B001") == ["+84933444555"]
        assert active_numbers(carrier_a, "B001") == ["+84977000444"]


class TestHappyPath:
    def test_an_operator_imports_new_staff_from_csv(self, login, alice, carrier_a):
        client = login(alice)
        previewed = preview(client, csv_upload(NEW_STAFF), carrier_a)
        assert import_types(previewed) == [("new", "A101"), ("new", "A102")]

        response = confirm(client, previewed)

        assert response.status_code == 302
        assert response.url == CHANGELIST_URL
        hoa = StaffMember.objects.get(carrier=carrier_a, employee_code="A101")
        assert (hoa.full_name, hoa.status, hoa.region) == ("Phạm Thị Hoa", "active", "Hà Nội")
        assert active_numbers(carrier_a, "A101") == ["+84977000111", "+84977000222"]
        minh = StaffMember.objects.get(carrier=carrier_a, employee_code="A102")
        assert (minh.status, minh.region) == ("suspended", "")
        assert active_numbers(carrier_a, "A102") == ["+84977000333"]
        assert LogEntry.objects.filter(user=alice).count() == 2

    def test_an_operator_imports_from_xlsx_with_numbers_typed_as_numbers(
        self, login, alice, carrier_a
    ):
        client = login(alice)
        rows = [
            [4711, "Phạm Thị Hoa", None, "Hà Nội", 977000111],
            ["A102", "Lê Văn Minh", "Terminated", None, "0977 000 333, 0977.000.444"],
        ]
        previewed = preview(client, xlsx_upload(rows), carrier_a, file_format=XLSX)
        assert import_types(previewed) == [("new", "4711"), ("new", "A102")]

        response = confirm(client, previewed)

        assert response.status_code == 302
        assert active_numbers(carrier_a, "4711") == ["+84977000111"]
        minh = StaffMember.objects.get(carrier=carrier_a, employee_code="A102")
        assert minh.status == "terminated"
        # Terminated staff keep their numbers on record, revoked.
        assert sorted(minh.phones.values_list("number", "status")) == [
            ("+84977000333", "revoked"),
            ("+84977000444", "revoked"),
        ]

    def test_the_preview_lists_new_and_updated_rows_without_saving(
        self, login, alice, carrier_a, staff_a
    ):
        rows = [
            ["A001", "Nguyễn Văn Anh", "", "Hà Nội", "0912 345 678; 0977 000 999"],
            *NEW_STAFF,
        ]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert import_types(response) == [("update", "A001"), ("new", "A101"), ("new", "A102")]
        page = response.content.decode()
        assert page.count('<tr class="update">') == 1
        assert page.count('<tr class="new">') == 2
        # The phones column shows the numbers as they would be after the import.
        assert after_import(response.context["result"].valid_rows()[0].diff[4]) == (
            "+84912345678, +84977000999"
        )
        staff_a.refresh_from_db()
        assert staff_a.full_name == "Nguyễn Văn An"
        assert active_numbers(carrier_a, "A001") == ["+84912345678", "+84988111222"]
        assert StaffMember.objects.filter(carrier=carrier_a).count() == 1

    def test_the_files_phones_replace_those_of_an_existing_staff_member(
        self, login, alice, carrier_a, staff_a
    ):
        client = login(alice)
        rows = [["A001", "Nguyễn Văn An", "", "Hà Nội", "0912 345 678; 0977 000 999"]]
        confirm(client, preview(client, csv_upload(rows), carrier_a))
        assert sorted(staff_a.phones.values_list("number", "status")) == [
            ("+84912345678", "active"),
            ("+84977000999", "active"),
            ("+84988111222", "revoked"),
        ]


class TestRowErrors:
    def test_an_invalid_phone_is_reported_with_its_row_the_number_and_the_reason(
        self, login, alice, carrier_a
    ):
        rows = [NEW_STAFF[0], ["A103", "Vũ Thị Lan", "", "", "0977 000 555; 0912"]]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert row_errors(response) == {2: {"phones": ["invalid_number"]}}
        assert "0912" in row_messages(response, 2)
        assert "too_short" in row_messages(response, 2)
        assert "confirm_form" not in response.context
        assert not StaffMember.objects.exists()

    def test_a_duplicate_employee_code_is_reported_on_its_second_row(self, login, alice, carrier_a):
        rows = [*NEW_STAFF, ["A101", "Phạm Thị Hoa", "", "", "0977 000 666"]]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert row_errors(response) == {3: {"employee_code": ["duplicate_employee_code"]}}
        assert "row 1" in row_messages(response, 3)

    def test_an_unknown_status_is_reported(self, login, alice, carrier_a):
        rows = [NEW_STAFF[0], ["A103", "Vũ Thị Lan", "fired", "", "0977 000 555"]]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert row_errors(response) == {2: {"status": ["invalid_status"]}}
        assert "fired" in row_messages(response, 2)

    def test_a_missing_employee_code_or_full_name_is_reported(self, login, alice, carrier_a):
        rows = [
            NEW_STAFF[0],
            ["", "Vũ Thị Lan", "", "", "0977 000 555"],
            ["A104", " ", "", "", "0977 000 666"],
        ]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        errors = row_errors(response)
        assert sorted(errors) == [2, 3]
        assert list(errors[2]) == ["employee_code"]
        assert list(errors[3]) == ["full_name"]

    def test_a_phone_active_for_another_staff_member_is_reported(
        self, login, alice, carrier_a, staff_a
    ):
        rows = [["A101", "Phạm Thị Hoa", "", "", "0912 345 678"]]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert row_errors(response) == {1: {"phones": ["phone_in_use"]}}
        assert "+84912345678" in row_messages(response, 1)

    def test_a_hotline_is_refused_as_a_staff_phone(self, login, bob, carrier_a, carrier_b):
        rows = [["B101", "Đường Dây", "", "", "0977 000 555; 1900 1111"]]
        response = preview(login(bob), csv_upload(rows), carrier_b)

        assert row_errors(response) == {1: {"phones": ["number_is_hotline"]}}
        assert "1900 1111" in row_messages(response, 1)
        assert not StaffMember.objects.filter(employee_code="B101").exists()

    def test_one_phone_on_two_rows_of_the_file_is_reported_on_the_second(
        self, login, alice, carrier_a
    ):
        rows = [NEW_STAFF[0], ["A103", "Vũ Thị Lan", "", "", "+84 977 000 111"]]
        response = preview(login(alice), csv_upload(rows), carrier_a)

        assert row_errors(response) == {2: {"phones": ["phone_in_use"]}}

    def test_every_bad_row_is_reported_on_the_page(self, login, alice, carrier_a):
        rows = [
            ["A101", "Phạm Thị Hoa", "fired", "", "0977 000 111"],
            ["A102", "Lê Văn Minh", "", "", "abc"],
        ]
        page = preview(login(alice), csv_upload(rows), carrier_a).content.decode()

        assert "Unknown status “fired”" in page
        assert (
            "abc: A phone number has only digits: letters are not read as digits. (reason: letters)"
        ) in page

    def test_a_file_without_a_phones_column_is_refused_as_a_whole(self, login, alice, carrier_a):
        upload = csv_upload([["A101", "Phạm Thị Hoa"]], header=["employee_code", "full_name"])
        response = preview(login(alice), upload, carrier_a)

        result = response.context["result"]
        assert [str(error.error) for error in result.base_errors] == [
            "The file has no column named phones."
        ]
        assert result.rows == []
        assert "confirm_form" not in response.context


class TestConfirmation:
    def test_a_confirmation_that_meets_an_error_saves_nothing(
        self, login, alice, carrier_a, staff_a
    ):
        client = login(alice)
        previewed = preview(client, csv_upload(NEW_STAFF), carrier_a)
        assert previewed.context["confirm_form"] is not None
        # Between the preview and the confirmation, A101's second number goes to A001.
        services.staff_upsert(
            carrier=carrier_a,
            employee_code="A001",
            full_name="Nguyễn Văn An",
            phone_numbers=["0912 345 678", "0977 000 222"],
        )

        response = confirm(client, previewed)

        assert response.status_code == 200
        assert row_errors(response) == {1: {"phones": ["phone_in_use"]}}
        assert "Nothing was imported." in response.content.decode()
        assert list(StaffMember.objects.values_list("employee_code", flat=True)) == ["A001"]
        assert not LogEntry.objects.exists()

    def test_a_confirmation_of_an_upload_that_is_gone_is_a_form_error(
        self, login, alice, carrier_a
    ):
        client = login(alice)
        previewed = preview(client, csv_upload(NEW_STAFF), carrier_a)

        response = confirm(client, previewed, import_file_name="0123456789abcdef")

        assert response.status_code == 200
        assert "import_file_name" in response.context["confirm_form"].errors
        assert not StaffMember.objects.exists()
