"""POST /api/v1/carrier/labels/: the parcel's privacy label, read back the way a person and a
scanner read it: the PDF's text extracted, its page rendered at 300 dpi and its barcodes
decoded; the ZPL parsed command by command."""

import base64
import io
import json
import re
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import zxingcpp

from registry import services
from registry.models import DeliveryAssignment
from registry.pii import recipient_digest
from tests.api_client import assert_error, call, make_key

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LABELS_URL = "/api/v1/carrier/labels/"
MM = 72 / 25.4
NAME = "Đặng Thị Mỹ Duyên"
PHONE = "0901 234 567"
ADDRESS = ["Số 12 ngõ 34 phố Huỳnh Thúc Kháng, phường Láng Hạ, quận Đống Đa", "Hà Nội"]


@pytest.fixture
def parcel_a(staff_a):
    assignment, _ = services.assignment_upsert(
        carrier=staff_a.carrier, tracking_code="TRK-A-1", staff=staff_a, recipient_phone=PHONE
    )
    return assignment


def label(client, key, **changes):
    body = {
        "tracking_code": "TRK-A-1",
        "recipient_name": NAME,
        "recipient_phone": PHONE,
        "address_lines": ADDRESS,
        "cod_amount": 150000,
    }
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}
    return call(client, "POST", LABELS_URL, key, body)


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def rendered_codes(content: bytes, save_as: str = "") -> dict[str, str]:
    """{format: text} of the barcodes a reader finds on the page rendered at 300 dpi; the
    image saved under tests/artifacts/ (which CI keeps) when named."""
    page = pypdfium2.PdfDocument(content)[0]
    image = page.render(scale=300 / 72).to_pil()
    if save_as:
        ARTIFACTS.mkdir(exist_ok=True)
        image.save(ARTIFACTS / save_as)
    return {code.format.name: code.text for code in zxingcpp.read_barcodes(image)}


def without_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text)


class TestPdf:
    def test_it_is_one_page_of_100_by_150_mm_with_an_embedded_font(self, client, key_a, parcel_a):
        response = label(client, key_a)

        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/pdf"
        reader = pypdf.PdfReader(io.BytesIO(response.content))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert round(float(box.width) / MM, 1) == 100.0
        assert round(float(box.height) / MM, 1) == 150.0
        fonts = reader.pages[0]["/Resources"]["/Font"]
        for font in [font.get_object() for font in fonts.values()]:
            assert "DejaVuSans" in str(font["/BaseFont"])  # a subset: "/AAAAAA+DejaVuSans"
            assert "/FontFile2" in font["/FontDescriptor"]  # the TrueType program, embedded

    def test_it_shows_the_masked_recipient_the_address_the_cod_and_the_carrier(
        self, client, key_a, parcel_a
    ):
        text = pdf_text(label(client, key_a).content)

        assert "Đ. T. M. D." in text
        assert "**** *** 567" in text
        # The address as sent, Vietnamese intact (a long line wraps: compare without spaces).
        assert without_spaces("".join(ADDRESS)) in without_spaces(text)
        assert "150.000 ₫" in text
        assert "Alpha Post" in text and "1900 1111" in text
        assert "TRK-A-1" in text
        assert "Shipper thật không bao giờ đòi mã OTP" in text  # the rule, in Vietnamese

    def test_it_holds_neither_the_name_nor_the_number(self, client, key_a, parcel_a):
        text = pdf_text(label(client, key_a).content)

        for part in NAME.split():
            assert part not in text
        digits = re.sub(r"\D", "", text)
        assert "901234567" not in digits and "0901234" not in digits

    def test_its_barcode_is_the_tracking_code_and_its_qr_the_parcel_page(
        self, client, key_a, parcel_a
    ):
        response = label(client, key_a)

        codes = rendered_codes(response.content, save_as="label-sample.png")
        assert codes["Code128"] == "TRK-A-1"
        url = response["X-Parcel-Url"]
        assert codes["QRCode"] == url
        assert url.startswith("http://testserver/p/")
        page = client.get(url.removeprefix("http://testserver"))
        assert page.status_code == 200
        assert "TRK-A-1" in page.content.decode()

    def test_the_longest_address_leaves_the_codes_readable(self, client, key_a, parcel_a):
        lines = ["Phường " + "x" * 73, "y" * 80, "Ngõ " + "z " * 38, "Đống Đa, Hà Nội " * 5]
        response = label(client, key_a, address_lines=[line[:80] for line in lines])

        codes = rendered_codes(response.content)
        assert codes["QRCode"] == response["X-Parcel-Url"] and codes["Code128"] == "TRK-A-1"
        text = without_spaces(pdf_text(response.content))
        assert all(without_spaces(line[:80]) in text for line in lines)
        assert "150.000₫" in text

    def test_without_cod_no_amount_is_printed(self, client, key_a, parcel_a):
        text = pdf_text(label(client, key_a, cod_amount=None).content)
        assert "₫" not in text

    def test_a_pdf_may_be_asked_for_by_its_media_type(self, client, key_a, parcel_a):
        response = label(client, key_a, HTTP_ACCEPT="application/pdf")
        assert response.status_code == 200
        assert response.content.startswith(b"%PDF-")


def parse_zpl(content: bytes) -> list[tuple[str, str]]:
    """(command, parameters) of each ZPL command, in order; a field's data decoded from its
    `^FH\\` hex escapes."""
    text = content.decode()
    assert text.startswith("^XA") and text.rstrip().endswith("^XZ")
    commands = []
    for chunk in re.split(r"(?=\^)", text.replace("\n", "")):
        if not chunk:
            continue
        name, params = chunk[:3], chunk[3:]
        if name == "^FD":
            params = re.sub(
                r"((?:\\[0-9A-F]{2})+)",
                lambda m: bytes.fromhex(m.group(1).replace("\\", "")).decode(),
                params,
            )
        commands.append((name, params))
    return commands


def fields(commands: list[tuple[str, str]]) -> list[tuple[str | None, str]]:
    """(the barcode command before it, or None for text; the field's data)."""
    found, barcode = [], None
    for name, params in commands:
        if name in {"^BC", "^BQ"}:
            barcode = name
        elif name == "^FD":
            found.append((barcode, params))
            barcode = None
    return found


class TestZpl:
    def test_it_is_utf8_zpl_with_a_code_128_and_a_qr_of_the_parcel_page(
        self, client, key_a, parcel_a
    ):
        response = label(client, key_a, format="zpl")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/x-zpl"
        commands = parse_zpl(response.content)
        assert ("^CI", "28") in commands
        assert ("^PW", "800") in commands and ("^LL", "1200") in commands  # 100 x 150 mm
        data = fields(commands)
        assert ("^BC", "TRK-A-1") in data
        assert ("^BQ", "MA," + response["X-Parcel-Url"]) in data
        texts = [value for barcode, value in data if barcode is None]
        assert "Đ. T. M. D." in texts
        assert any("**** *** 567" in text for text in texts)
        assert ADDRESS[0] in texts and ADDRESS[1] in texts
        assert any("150.000 ₫" in text for text in texts)
        assert "Alpha Post" in texts
        assert not any(part in " ".join(texts) for part in [*NAME.split(), "901234567"])

    def test_text_cannot_inject_printer_commands(self, client, key_a, parcel_a):
        sent = "Ngõ 5 ^XZ^XA~JR \\ kiệt"
        response = label(client, key_a, format="zpl", address_lines=[sent])

        commands = parse_zpl(response.content)
        assert [name for name, _params in commands].count("^XA") == 1
        assert [name for name, _params in commands].count("^XZ") == 1
        assert sent in [value for _barcode, value in fields(commands)]
        assert b"~JR" not in response.content

    def test_a_tracking_code_holding_the_subset_switch_character_is_escaped(
        self, client, key_a, staff_a
    ):
        services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code="VN>12", staff=staff_a, recipient_phone=PHONE
        )
        data = fields(parse_zpl(label(client, key_a, tracking_code="VN>12", format="zpl").content))
        assert ("^BC", "VN><12") in data  # `><` is ZPL's way to print a `>` in a barcode
        assert (None, "VN>12") in data

    def test_the_same_parcel_prints_the_same_page_link_in_both_formats(
        self, client, key_a, parcel_a
    ):
        pdf_url = label(client, key_a)["X-Parcel-Url"]
        zpl_url = label(client, key_a, format="zpl")["X-Parcel-Url"]
        assert pdf_url == zpl_url


class TestParcelToken:
    def test_it_is_url_safe_with_at_least_128_random_bits(self, client, key_a, parcel_a):
        token = label(client, key_a)["X-Parcel-Url"].rstrip("/").rsplit("/", 1)[1]

        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128

    def test_it_is_the_same_on_every_reprint_and_one_per_parcel(
        self, client, key_a, parcel_a, staff_a
    ):
        first = label(client, key_a)["X-Parcel-Url"]
        assert label(client, key_a, recipient_name="Khác Tên")["X-Parcel-Url"] == first
        # Re-sending the assignment (a status change) keeps it too.
        services.assignments_bulk_upsert(
            carrier=staff_a.carrier,
            items=[{"tracking_code": "TRK-A-1", "employee_code": "A001", "status": "pending"}],
        )
        assert label(client, key_a)["X-Parcel-Url"] == first
        services.assignment_upsert(
            carrier=staff_a.carrier, tracking_code="TRK-A-2", staff=staff_a, recipient_phone=PHONE
        )
        assert label(client, key_a, tracking_code="TRK-A-2")["X-Parcel-Url"] != first

    def test_a_parcel_older_than_the_token_is_given_one_on_its_first_label(
        self, client, key_a, parcel_a
    ):
        DeliveryAssignment.objects.filter(pk=parcel_a.pk).update(parcel_token="")

        url = label(client, key_a)["X-Parcel-Url"]

        token = DeliveryAssignment.objects.get(pk=parcel_a.pk).parcel_token
        assert token and url.endswith(f"/p/{token}/")
        assert label(client, key_a)["X-Parcel-Url"] == url


class TestRecipient:
    def test_an_assignment_without_a_recipient_takes_the_label_s(self, client, key_a, staff_a):
        services.assignment_upsert(carrier=staff_a.carrier, tracking_code="TRK-A-9", staff=staff_a)

        assert label(client, key_a, tracking_code="TRK-A-9").status_code == 200

        stored = DeliveryAssignment.objects.get(tracking_code="TRK-A-9").recipient_digest
        assert stored == recipient_digest("+84901234567")
        refused = label(client, key_a, tracking_code="TRK-A-9", recipient_phone="0907 000 000")
        assert_error(refused, 400, "recipient_mismatch")

    def test_another_number_than_the_assignment_s_is_refused(self, client, key_a, parcel_a):
        response = label(client, key_a, recipient_phone="0907 000 000")

        assert_error(response, 400, "recipient_mismatch")
        assert DeliveryAssignment.objects.get(pk=parcel_a.pk).recipient_digest == recipient_digest(
            "+84901234567"
        )

    def test_the_number_may_be_written_any_usual_way(self, client, key_a, parcel_a):
        assert label(client, key_a, recipient_phone="+84 901 234 567").status_code == 200


class TestRefusals:
    def test_an_unknown_tracking_code_is_unknown_parcel(self, client, key_a, parcel_a):
        assert_error(label(client, key_a, tracking_code="NOPE-1"), 404, "unknown_parcel")

    def test_another_carrier_s_parcel_answers_exactly_like_an_unknown_one(
        self, client, key_b, parcel_a
    ):
        theirs = label(client, key_b, tracking_code="TRK-A-1")
        nobodys = label(client, key_b, tracking_code="TRK-Z-9")

        assert_error(theirs, 404, "unknown_parcel")
        assert theirs.content == nobodys.content

    def test_the_control_a_s_key_prints_a_s_parcel(self, client, key_a, parcel_a):
        assert label(client, key_a).status_code == 200

    @pytest.mark.parametrize(
        "address_lines",
        [[], ["1"] * 5, ["x" * 81], [12], "Số 1 Hà Nội", ["Số 1\nHà Nội"], [""], None],
        ids=["none", "five", "too-long", "number", "a-string", "newline", "blank", "missing"],
    )
    def test_bad_address_lines_are_refused(self, client, key_a, parcel_a, address_lines):
        response = label(client, key_a, address_lines=address_lines)
        error = assert_error(response, 400, "invalid")
        assert error["details"]["field"].startswith("address_lines")

    def test_four_lines_of_80_characters_are_fine(self, client, key_a, parcel_a):
        assert label(client, key_a, address_lines=["x" * 80] * 4).status_code == 200

    @pytest.mark.parametrize("label_format", ["png", "PDF", "", 1])
    def test_a_bad_format_is_refused(self, client, key_a, parcel_a, label_format):
        assert_error(label(client, key_a, format=label_format), 400, "invalid")

    @pytest.mark.parametrize("amount", [-1, 1.5, "lots", True])
    def test_a_bad_cod_amount_is_refused(self, client, key_a, parcel_a, amount):
        assert_error(label(client, key_a, cod_amount=amount), 400, "invalid")

    def test_a_bad_recipient_number_is_invalid_number(self, client, key_a, parcel_a):
        assert_error(label(client, key_a, recipient_phone="12"), 400, "invalid_number")

    def test_a_missing_name_is_refused(self, client, key_a, parcel_a):
        assert_error(label(client, key_a, recipient_name="  "), 400, "invalid")

    def test_a_tracking_code_code_128_cannot_print_is_refused(self, client, key_a, staff_a):
        services.assignment_upsert(carrier=staff_a.carrier, tracking_code="MÃ-1", staff=staff_a)
        assert_error(label(client, key_a, tracking_code="MÃ-1"), 400, "invalid")

    def test_a_partner_key_is_403(self, client, parcel_a):
        partner = make_key(None, "partner-app")
        assert_error(label(client, partner), 403, "carrier_key_required")

    def test_no_key_is_401(self, client, parcel_a):
        assert label(client, None).status_code == 401

    def test_a_body_that_is_not_an_object_is_refused(self, client, key_a, parcel_a):
        response = call(client, "POST", LABELS_URL, key_a, json.dumps(["TRK-A-1"]))
        assert response.status_code == 400
