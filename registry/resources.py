"""The staff file import of the admin (CSV, XLSX), built on django-import-export.

One import goes into one carrier, chosen by who imports (registry.access), never by the file;
the two forms below carry that carrier from the upload to the confirmation. Every row is
written by services.staff_upsert, with the file's phones as the whole truth for that staff
member. One bad row, of any kind, rolls the whole file back.

A file of more than IMPORT_BACKGROUND_ROWS rows is imported by a Celery worker rather than in
the request (services.staff_import_run), through this same resource.
"""

import re
from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import RowResult
from import_export.tmp_storages import CacheStorage
from tablib import Dataset

from . import services
from .models import Carrier, StaffMember, StaffPhone

REQUIRED_COLUMNS = ("employee_code", "full_name", "phones")
OPTIONAL_COLUMNS = ("status", "region")
PHONE_SEPARATOR = re.compile(r"[;,]")
IMPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]
FILE_ENCODING = "utf-8-sig"  # of a CSV file; what the admin reads uploads with
# The upload waits here between the preview and the confirmation. The cache (Redis in
# production) is seen by every web host; a temporary file would be on one host only.
UPLOAD_STORAGE = CacheStorage


def read_dataset(content: bytes, file_format: str) -> Dataset:
    """A stored upload (StaffImport.content) read as the admin reads it; `file_format` is
    the title of one of IMPORT_FORMATS (csv, xlsx)."""
    formats = {format_class().get_title(): format_class for format_class in IMPORT_FORMATS}
    return formats[file_format](encoding=FILE_ENCODING).create_dataset(content)


def _cell_text(value) -> str:
    """A cell as stripped text. A spreadsheet hands a typed-in code or phone over as a number,
    and 912345678.0 means 912345678."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class CellTextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return _cell_text(value)


class StatusWidget(CellTextWidget):
    """Empty means active; any other value is checked against the model's choices by the
    resource, so that a bad status is reported next to the row's other problems."""

    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs).lower() or StaffMember.Status.ACTIVE


class PhoneListWidget(widgets.Widget):
    """`0912 345 678; +84 988 111 222` → the raw numbers, left for the service to normalise."""

    def clean(self, value, row=None, **kwargs):
        return [part.strip() for part in PHONE_SEPARATOR.split(_cell_text(value)) if part.strip()]

    def render(self, value, obj=None, **kwargs):
        return ", ".join(value or [])


class PhonesField(fields.Field):
    """Imports the file's numbers onto the instance, for staff_upsert. Reads, for the
    preview's before and after, the staff member's active numbers in the database."""

    def save(self, instance, row, is_m2m=False, **kwargs):
        instance.import_phone_numbers = self.clean(row, **kwargs)

    def get_value(self, instance):
        if instance is None or instance.pk is None:
            return []
        return list(
            instance.phones.filter(status=StaffPhone.Status.ACTIVE)
            .order_by("number")
            .values_list("number", flat=True)
        )


def _row_error(exc: services.RegistryError) -> ValidationError:
    """A refusal of staff_upsert as the row's error, next to the column it is about."""
    if exc.code == "invalid_number":
        message = gettext("%(error)s (reason: %(reason)s)") % {
            "error": exc.message,
            "reason": exc.details.get("reason", ""),
        }
        return ValidationError({"phones": ValidationError(message, code=exc.code)})
    if exc.code in ("phone_in_use", "number_is_hotline"):
        return ValidationError({"phones": ValidationError(exc.message, code=exc.code)})
    if exc.code == "invalid" and exc.details.get("fields"):
        return ValidationError(
            {
                field: [ValidationError(message, code="invalid") for message in messages]
                for field, messages in exc.details["fields"].items()
            }
        )
    return ValidationError(exc.message, code=exc.code)


class StaffImportResource(resources.ModelResource):
    employee_code = fields.Field(
        attribute="employee_code", column_name="employee_code", widget=CellTextWidget()
    )
    full_name = fields.Field(
        attribute="full_name", column_name="full_name", widget=CellTextWidget()
    )
    status = fields.Field(attribute="status", column_name="status", widget=StatusWidget())
    region = fields.Field(attribute="region", column_name="region", widget=CellTextWidget())
    phones = PhonesField(attribute="phones", column_name="phones", widget=PhoneListWidget())

    class Meta:
        model = StaffMember
        name = _("Staff members of one carrier")
        fields = ("employee_code", "full_name", "status", "region", "phones")
        import_id_fields = ("employee_code",)
        use_transactions = True
        clean_model_instances = False  # staff_upsert validates
        report_skipped = False  # blank lines
        # Each row's result keeps its staff member, in the preview too. (The library would
        # otherwise switch this on for good, class-wide, at the first confirmed import.)
        store_instance = True

    def __init__(
        self,
        carrier: Carrier | None = None,
        *,
        preview_rows: int | None = None,
        on_row: Callable[[int, str, RowResult], None] | None = None,
        **kwargs,
    ):
        """`preview_rows`: a dry run (the admin's preview) of a longer file checks its
        columns only. `on_row(row number, employee code, row result)` is called after each
        row."""
        super().__init__(**kwargs)
        self.carrier = carrier
        self.preview_rows = preview_rows
        self.on_row = on_row
        self._row_of_code: dict[str, int] = {}

    def import_data(self, dataset, **kwargs):
        # Validation errors roll back too: a staff list imported but for its bad rows would
        # leave those staff with their old phones while the operator believes them replaced.
        kwargs["rollback_on_validation_errors"] = True
        if self.carrier is None:
            raise ValueError("StaffImportResource needs the carrier to import into")
        self._row_of_code = {}
        missing = self._prepare_columns(dataset)
        if missing:
            # Said once for the file, rather than once for each of its rows.
            result = self.get_result_class()()
            error = ValueError(
                gettext("The file has no column named %(columns)s.")
                % {"columns": ", ".join(missing)}
            )
            self.handle_import_error(result, error, kwargs.get("raise_errors", False))
            return result
        if kwargs.get("dry_run") and self.preview_rows is not None:
            if len(dataset) > self.preview_rows:
                # Checking every row of a long file would take as long as importing it, and
                # that is what the background import is for: it reports the rows instead.
                result = self.get_result_class()()
                result.total_rows = len(dataset)
                result.rows_not_previewed = len(dataset)
                return result
        return super().import_data(dataset, **kwargs)

    def import_row(self, row, instance_loader, **kwargs):
        row_result = super().import_row(row, instance_loader, **kwargs)
        if self.on_row is not None:
            self.on_row(kwargs["row_number"], _cell_text(row.get("employee_code")), row_result)
        return row_result

    def _prepare_columns(self, dataset) -> list[str]:
        """Headers compared without case or spaces; optional columns added empty. Returns
        the required columns the file lacks."""
        dataset.headers = [_cell_text(header).lower() for header in dataset.headers or []]
        missing = [column for column in REQUIRED_COLUMNS if column not in dataset.headers]
        if not missing:
            for column in OPTIONAL_COLUMNS:
                if column not in dataset.headers:
                    dataset.append_col([""] * len(dataset), header=column)
        return missing

    def get_queryset(self):
        return StaffMember.objects.filter(carrier=self.carrier)

    def init_instance(self, row=None):
        return StaffMember(carrier=self.carrier)

    def import_instance(self, instance, row, **kwargs):
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if instance.status not in StaffMember.Status.values:
            errors.setdefault("status", []).append(
                ValidationError(
                    gettext("Unknown status “%(status)s”: use one of %(choices)s.")
                    % {"status": instance.status, "choices": ", ".join(StaffMember.Status.values)},
                    code="invalid_status",
                )
            )
        code, row_number = instance.employee_code, kwargs.get("row_number")
        if code and code in self._row_of_code:
            errors.setdefault("employee_code", []).append(
                ValidationError(
                    gettext("Employee code %(code)s is already on row %(row)s of this file.")
                    % {"code": code, "row": self._row_of_code[code]},
                    code="duplicate_employee_code",
                )
            )
        elif code:
            self._row_of_code[code] = row_number
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return all(_cell_text(value) == "" for value in row.values())

    def do_instance_save(self, instance, is_create):
        try:
            staff, _created = services.staff_upsert(
                carrier=self.carrier,
                employee_code=instance.employee_code,
                full_name=instance.full_name,
                status=instance.status,
                region=instance.region,
                phone_numbers=instance.import_phone_numbers,
            )
        except services.RegistryError as exc:
            raise _row_error(exc) from None
        instance.pk, instance.carrier = staff.pk, staff.carrier


class StaffImportForm(ImportForm):
    """The upload step. The carrier's choices are the user's carriers only, so that a forged
    POST naming another carrier is a form error: one carrier for an operator, any for a
    superuser."""

    carrier = forms.ModelChoiceField(
        label=_("Carrier"),
        queryset=Carrier.objects.none(),
        help_text=_("Every row of the file is imported into this carrier."),
    )
    field_order = ["carrier", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, carriers: QuerySet[Carrier], **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["carrier"].queryset = carriers
        self.fields["import_file"].help_text = _(
            "CSV or XLSX with the columns employee_code, full_name, status (active, suspended "
            "or terminated; empty means active), region (optional) and phones (one or more, "
            "separated by ; or ,). The phones listed replace the staff member's phones. Rows "
            "are numbered from 1, the first row under the header."
        )
        first_two = list(carriers[:2])
        if len(first_two) == 1:  # nothing to choose: say which, without an empty choice
            self.fields["carrier"].empty_label = None
            self.fields["carrier"].initial = first_two[0].pk


class StaffConfirmImportForm(ConfirmImportForm):
    """The confirmation step: the carrier travels in a hidden field and is checked again."""

    carrier = forms.ModelChoiceField(queryset=Carrier.objects.none(), widget=forms.HiddenInput)

    def __init__(self, *args, carriers: QuerySet[Carrier], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].queryset = carriers

    def clean_import_file_name(self):
        name = super().clean_import_file_name()
        if UPLOAD_STORAGE(name=name).read() is None:  # expired, or never uploaded
            raise forms.ValidationError(
                _("This upload is no longer available: please upload the file again."),
                code="upload_expired",
            )
        return name
