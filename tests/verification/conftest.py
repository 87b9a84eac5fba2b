import pytest

from registry import services as registry_services
from verification import services
from verification.models import ScamReport


@pytest.fixture
def report(db, django_capture_on_commit_callbacks):
    """report(number, reporter): one scam report from one reporter, through the service."""

    def make(number: str, reporter: str, status: str = ScamReport.Status.OPEN) -> ScamReport:
        with django_capture_on_commit_callbacks(execute=True):
            submitted = services.report_submit(
                number=number, reporter=services.reporter_digest("test", reporter)
            )
            if status == ScamReport.Status.REJECTED:
                services.report_reject(report=submitted)
        return submitted

    return make


@pytest.fixture
def shared_shipper(staff_a, carrier_b):
    """Trần Thị Bình works for A (A002) and B (B002) with the same phone."""
    for carrier, code in [(staff_a.carrier, "A002"), (carrier_b, "B002")]:
        registry_services.staff_upsert(
            carrier=carrier,
            employee_code=code,
            full_name="Trần Thị Bình",
            phone_numbers=["0977 222 333"],
        )
    return "+84977222333"
