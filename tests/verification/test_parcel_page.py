"""GET /p/<token>/ and its vCard: what a recipient sees after scanning the label."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from registry import services as registry_services
from registry.models import DeliveryAssignment
from verification import dashboard, services
from verification.models import CallIntent

RECIPIENT = "0901 234 567"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def parcel(staff_a):
    assignment, _ = registry_services.assignment_upsert(
        carrier=staff_a.carrier,
        tracking_code="TRK-A-1",
        staff=staff_a,
        recipient_phone=RECIPIENT,
        window_start=datetime(2026, 11, 28, 9, 0, tzinfo=HANOI),
        window_end=datetime(2026, 11, 28, 12, 0, tzinfo=HANOI),
        status=DeliveryAssignment.Status.OUT_FOR_DELIVERY,
    )
    return assignment


def set_status(assignment, status):
    registry_services.assignment_upsert(
        carrier=assignment.carrier,
        tracking_code=assignment.tracking_code,
        staff=assignment.staff,
        window_start=assignment.window_start,
        window_end=assignment.window_end,
        status=status,
    )


def open_page(client, assignment, suffix="", **extra):
    return client.get(f"/p/{assignment.parcel_token}/{suffix}", **extra)


def text(response) -> str:
    return response.content.decode()


class TestWhileTheParcelIsOpen:
    @pytest.mark.parametrize("status", ["pending", "out_for_delivery"])
    def test_it_shows_who_will_deliver(self, client, parcel, status):
        set_status(parcel, status)
        page = text(open_page(client, parcel))

        assert "Alpha Post" in page and "TRK-A-1" in page
        assert "09:00, 28/11/2026" in page and "12:00, 28/11/2026" in page
        assert "N. V. An" in page and "A001" in page
        # Active numbers in full, to recognise the call.
        assert 'href="tel:+84912345678"' in page and "0912 345 678" in page
        assert 'href="tel:+84988111222"' in page
        assert f"/p/{parcel.parcel_token}/shipper.vcf" in page
        assert "không phải shipper của Alpha Post" in page  # anyone else is not ours
        assert "Nguyễn Văn An" not in page

    def test_it_is_vietnamese_first_and_english_on_request(self, client, parcel):
        assert 'lang="vi"' in text(open_page(client, parcel))
        english = text(client.get(f"/p/{parcel.parcel_token}/?lang=en"))
        assert "Anyone else who calls about this parcel is not Alpha Post's shipper." in english

    def test_a_revoked_number_is_not_listed(self, client, parcel, staff_a):
        registry_services.phone_revoke(phone=staff_a.phones.get(number="+84988111222"))
        page = text(open_page(client, parcel))
        assert "+84912345678" in page and "+84988111222" not in page

    def test_a_reassignment_shows_the_new_shipper_on_the_next_load(self, client, parcel):
        assert "A001" in text(open_page(client, parcel))
        other, _ = registry_services.staff_upsert(
            carrier=parcel.carrier,
            employee_code="A002",
            full_name="Lê Thị Cúc",
            phone_numbers=["0977 000 111"],
        )
        registry_services.assignment_upsert(
            carrier=parcel.carrier, tracking_code="TRK-A-1", staff=other, status="out_for_delivery"
        )

        page = text(open_page(client, parcel))

        assert "L. T. Cúc" in page and "A002" in page and "+84977000111" in page
        assert "A001" not in page and "+84912345678" not in page


class TestTheAnnouncedCall:
    def announce(self, carrier, code="A001", phone="0912 345 678", recipient=RECIPIENT):
        return services.call_intent_create(
            carrier=carrier, employee_code=code, phone=phone, recipient_phone=recipient
        )

    def test_a_live_call_intent_to_this_recipient_is_announced_with_its_time(self, client, parcel):
        intent = self.announce(parcel.carrier)
        at = timezone.localtime(intent.created_at).strftime("%H:%M")

        page = text(open_page(client, parcel))

        assert 'id="call-announced"' in page
        assert at in page

    def test_a_call_to_another_recipient_is_not(self, client, parcel):
        self.announce(parcel.carrier, recipient="0907 000 000")
        assert 'id="call-announced"' not in text(open_page(client, parcel))

    def test_an_expired_call_intent_is_not(self, client, parcel):
        self.announce(parcel.carrier)
        CallIntent.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert 'id="call-announced"' not in text(open_page(client, parcel))

    def test_another_carrier_s_call_intent_from_the_same_phone_proves_nothing(
        self, client, parcel, carrier_b
    ):
        """The shipper also works for B with the same phone: B's announcement is B's."""
        registry_services.staff_upsert(
            carrier=carrier_b,
            employee_code="B007",
            full_name="Nguyễn Văn An",
            phone_numbers=["0912 345 678"],
        )
        self.announce(carrier_b, code="B007")
        assert 'id="call-announced"' not in text(open_page(client, parcel))
        self.announce(parcel.carrier)  # the control: A's own announcement shows
        assert 'id="call-announced"' in text(open_page(client, parcel))

    def test_a_call_from_another_staff_member_of_the_carrier_is_not(self, client, parcel):
        registry_services.staff_upsert(
            carrier=parcel.carrier,
            employee_code="A003",
            full_name="Phạm Văn Dũng",
            phone_numbers=["0966 000 333"],
        )
        self.announce(parcel.carrier, code="A003", phone="0966 000 333")
        assert 'id="call-announced"' not in text(open_page(client, parcel))


class TestStatusOnly:
    @pytest.mark.parametrize("status", ["delivered", "failed", "cancelled"])
    def test_a_closed_parcel_shows_its_status_and_no_staff(self, client, parcel, status):
        set_status(parcel, status)

        response = open_page(client, parcel)

        page = text(response)
        assert response.status_code == 200
        assert "TRK-A-1" in page and f'data-parcel-status="{status}"' in page
        for staff_trace in ["A001", "N. V. An", "+84912345678", "0912 345 678", "shipper.vcf"]:
            assert staff_trace not in page
        assert open_page(client, parcel, "shipper.vcf").status_code == 404

    def test_a_parcel_whose_recipient_is_unknown_shows_its_status_only(self, client, parcel):
        DeliveryAssignment.objects.filter(pk=parcel.pk).update(recipient_digest="")

        page = text(open_page(client, parcel))

        assert "TRK-A-1" in page and "A001" not in page and "+84912345678" not in page
        assert open_page(client, parcel, "shipper.vcf").status_code == 404

    def test_a_parcel_past_retention_has_no_page_any_more(self, client, parcel):
        # Retention forgets the whole assignment (a day partition on PostgreSQL), token too.
        later = timezone.localdate() + timedelta(days=91)
        assert registry_services.assignments_purge_expired(keep_days=90, today=later)

        assert open_page(client, parcel).status_code == 404
        assert open_page(client, parcel, "shipper.vcf").status_code == 404

    def test_a_suspended_shipper_is_not_shown(self, client, parcel, staff_a):
        registry_services.staff_set_status(staff=staff_a, status="suspended")
        assert "A001" not in text(open_page(client, parcel))


class TestTheUrl:
    def test_an_unknown_token_is_404(self, client, parcel):
        assert client.get("/p/" + "x" * 27 + "/").status_code == 404
        assert client.get("/p/" + "x" * 27 + "/shipper.vcf").status_code == 404

    def test_a_parcel_without_a_token_has_no_page(self, client, parcel):
        DeliveryAssignment.objects.filter(pk=parcel.pk).update(parcel_token="")
        assert client.get("/p//").status_code == 404

    @pytest.mark.parametrize("suffix", ["", "shipper.vcf"])
    def test_it_is_kept_out_of_search_engines_and_caches(self, client, parcel, suffix):
        for response in [open_page(client, parcel, suffix), client.get(f"/p/nope/{suffix}")]:
            assert "noindex" in response["X-Robots-Tag"]
            assert response["Cache-Control"] == "no-store"
            assert response["Referrer-Policy"] == "no-referrer"

    def test_it_is_limited_per_address_like_the_lookup(self, client, parcel, settings):
        settings.WEB_RATE_LIMIT = "3/min"
        for _ in range(3):
            assert open_page(client, parcel, REMOTE_ADDR="203.0.113.5").status_code == 200

        refused = open_page(client, parcel, REMOTE_ADDR="203.0.113.5")

        assert refused.status_code == 429
        assert int(refused["Retry-After"]) >= 1
        assert open_page(client, parcel, REMOTE_ADDR="203.0.113.6").status_code == 200

    def test_it_takes_no_post(self, client, parcel):
        assert client.post(f"/p/{parcel.parcel_token}/").status_code == 405


class TestVcard:
    def test_it_saves_the_shipper_under_the_carrier_s_name(self, client, parcel):
        response = open_page(client, parcel, "shipper.vcf")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/vcard")
        card = text(response)
        lines = card.split("\r\n")
        assert lines[0] == "BEGIN:VCARD" and lines[-2] == "END:VCARD"
        full_name = next(line for line in lines if line.startswith("FN:"))
        assert "Alpha Post" in full_name and "N. V. An" in full_name
        assert "TEL;TYPE=CELL,VOICE:+84912345678" in lines
        assert "TEL;TYPE=CELL,VOICE:+84988111222" in lines
        assert "Nguyễn Văn An" not in card

    def test_its_text_is_escaped(self, client, staff_a, carrier_a):
        registry_services.carrier_save(slug="alpha-post", name="Alpha; Post, North\\")
        parcel, _ = registry_services.assignment_upsert(
            carrier=carrier_a, tracking_code="TRK-A-5", staff=staff_a, recipient_phone=RECIPIENT
        )
        card = text(open_page(client, parcel, "shipper.vcf"))
        assert "ORG:Alpha\\; Post\\, North\\\\\r\n" in card


def test_the_dashboard_counts_parcel_page_visits_per_day(client, parcel, carrier_a):
    for _ in range(3):
        open_page(client, parcel)
    open_page(client, parcel, "shipper.vcf")  # a contact saved is not a visit
    client.get("/p/nope/")

    series = dashboard.series(carrier_a)

    assert series["parcel_page_visits"][-1] == 3
    assert sum(series["parcel_page_visits"]) == 3
