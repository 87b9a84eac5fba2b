"""The parcel's privacy label, drawn from what the carrier sends and kept nowhere.

The recipient's name and number are printed masked; the address as sent (the shipper must
find the door). The label is in Vietnamese whatever language the API call asked for: it is
read by the recipient and the shipper, not by the integrator.

PDF: one page of 100 x 150 mm (the standard thermal label), vector text in DejaVu Sans,
embedded (registry/fonts, under its licence: it covers Vietnamese), reportlab's own Code 128
and a QR code encoded by segno. ZPL: the same content for Zebra-compatible printers at
203 dpi, UTF-8 (`^CI28`), `^BC` Code 128 and `^BQ` QR.
"""

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import segno
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from . import phones
from .models import OfficialChannel

LABEL_LANGUAGE = "vi"
WIDTH, HEIGHT = 100 * mm, 150 * mm
MARGIN = 5 * mm
FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
# Registered once per process: parsing the TTF costs more than drawing a label.
pdfmetrics.registerFont(TTFont(FONT, str(FONTS / "DejaVuSans.ttf")))
# One embedded font, not a bold one beside it: subsetting and compressing a second font was a
# third of a label's time. Emphasis is the same glyphs filled and outlined (text render mode
# 2), still vector text that extracts as text.
FILL, FILL_STROKE = 0, 2

MAX_ADDRESS_LINES = 4
MAX_ADDRESS_LENGTH = 80


@dataclass(frozen=True)
class LabelContent:
    """What a label shows, already masked: nothing in it is the recipient's name or number."""

    carrier_name: str
    hotline: str  # as written in Vietnam (1900 1111), or ""
    tracking_code: str
    recipient_initials: str  # N. V. A.
    recipient_phone_masked: str  # **** *** 567
    address_lines: tuple[str, ...]
    cod_amount: int | None  # whole VND; None when the carrier sent none
    parcel_url: str


def mask_initials(full_name: str) -> str:
    """`Nguyễn Văn An` → `N. V. A.`: every part becomes its initial and a dot. Stricter than
    the staff rule (verification.services.mask_name keeps the last part): a recipient's given
    name and a tracking code on a photo of the parcel are what a scammer's call opens with."""
    parts = unicodedata.normalize("NFC", full_name).split()
    return " ".join(f"{part[0].upper()}." for part in parts)


def mask_phone(e164: str) -> str:
    """`+84901234567` → `**** *** 567`: as people write the number, every digit but the last
    three a star."""
    written = phones.display(e164)
    digits = sum(char.isdigit() for char in written)
    out, seen = [], 0
    for char in written:
        if char.isdigit():
            seen += 1
            out.append(char if seen > digits - 3 else "*")
        else:
            out.append(char)
    return "".join(out)


def format_vnd(amount: int) -> str:
    """150000 → `150.000 ₫`, as amounts are written in Vietnam."""
    return f"{amount:,}".replace(",", ".") + " ₫"


def is_printable_code(tracking_code: str) -> bool:
    """Code 128 encodes ASCII 32-126 only."""
    return all(32 <= ord(char) <= 126 for char in tracking_code)


def _texts(content: LabelContent) -> dict[str, str]:
    with translation.override(LABEL_LANGUAGE):
        return {
            "hotline": _("Hotline: %(number)s") % {"number": content.hotline}
            if content.hotline
            else "",
            "recipient": _("Recipient"),
            "phone": _("Phone: %(number)s") % {"number": content.recipient_phone_masked},
            "address": _("Address"),
            "cod": _("Cash on delivery: %(amount)s") % {"amount": format_vnd(content.cod_amount)}
            if content.cod_amount is not None
            else "",
            "scan": _("Scan to see who will deliver this parcel and call you."),
            "rule": _(
                "A real shipper never asks for an OTP, a transfer beyond the cash-on-delivery "
                "amount printed on the parcel, or a click on a link."
            ),
        }


# --- PDF -------------------------------------------------------------------------------------


def render_pdf(content: LabelContent) -> bytes:
    """The label top down: carrier, barcode, recipient; then bottom up: the rule, the QR
    code."""
    texts = _texts(content)
    buffer = io.BytesIO()
    # invariant: the same label gives the same bytes (no creation time, no random id).
    pdf = canvas.Canvas(
        buffer,
        pagesize=(WIDTH, HEIGHT),
        invariant=1,
        pageCompression=1,
        initialFontName=FONT,  # else Helvetica is listed, unembedded, though never used
    )
    pdf.setTitle(content.tracking_code)
    pdf.setCreator("shipper registry")
    y = _pdf_carrier(pdf, content, texts, HEIGHT - MARGIN)
    y = _pdf_barcode(pdf, content, y)
    rule_lines = simpleSplit(texts["rule"], FONT, 8, WIDTH - 2 * MARGIN - 8)
    box = 6 + 10 * len(rule_lines)
    qr_bottom = MARGIN + box + 3 * mm
    _pdf_recipient(pdf, content, texts, y, qr_top=qr_bottom + QR_SIZE)
    _pdf_rule_box(pdf, rule_lines, box)
    _pdf_qr(pdf, content, texts, qr_bottom)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


QR_SIZE = 32 * mm


def _pdf_carrier(pdf, content: LabelContent, texts: dict, y: float) -> float:
    inner = WIDTH - 2 * MARGIN
    y -= 16
    _draw_fitted(pdf, content.carrier_name, 15, MARGIN, y, inner, bold=True)
    if texts["hotline"]:
        y -= 13
        pdf.setFont(FONT, 10)
        pdf.drawString(MARGIN, y, texts["hotline"])
    y -= 6
    _rule(pdf, y)
    return y


def _pdf_barcode(pdf, content: LabelContent, y: float) -> float:
    # The barcode spans the label: wide bars read well off a thermal print.
    inner = WIDTH - 2 * MARGIN
    bar_height = 18 * mm
    barcode = Code128(content.tracking_code, barHeight=bar_height, barWidth=0.4 * mm, quiet=0)
    if barcode.width > inner:
        barcode = Code128(
            content.tracking_code,
            barHeight=bar_height,
            barWidth=0.4 * mm * inner / barcode.width,
            quiet=0,
        )
    y -= 4 * mm + bar_height
    barcode.drawOn(pdf, MARGIN + (inner - barcode.width) / 2, y)
    y -= 14
    _draw_fitted(pdf, content.tracking_code, 13, MARGIN, y, inner, centred=True, bold=True)
    y -= 7
    _rule(pdf, y)
    return y


def _pdf_recipient(pdf, content: LabelContent, texts: dict, y: float, qr_top: float) -> None:
    inner = WIDTH - 2 * MARGIN
    y -= 12
    pdf.setFont(FONT, 9)
    pdf.drawString(MARGIN, y, texts["recipient"])
    y -= 17
    _draw_fitted(pdf, content.recipient_initials, 15, MARGIN, y, inner, bold=True)
    y -= 15
    pdf.setFont(FONT, 12)
    pdf.drawString(MARGIN, y, texts["phone"])
    y -= 14
    pdf.setFont(FONT, 9)
    pdf.drawString(MARGIN, y, texts["address"])
    # The address takes the room left above the QR code: four long lines of 80 characters
    # are set smaller rather than run into it.
    room = y - (qr_top + 2 * mm) - (18 if texts["cod"] else 0)
    for size in (10, 9, 8, 7, 6):
        address = _wrap_all(content.address_lines, size, inner)
        if len(address) * (size + 2) <= room:
            break
    pdf.setFont(FONT, size)
    for part in address:
        y -= size + 2
        pdf.drawString(MARGIN, y, part)
    if texts["cod"]:
        y -= 18
        _draw_fitted(pdf, texts["cod"], 13, MARGIN, y, inner, bold=True)


def _pdf_rule_box(pdf, rule_lines: list[str], box: float) -> None:
    pdf.setLineWidth(1.2)
    pdf.rect(MARGIN, MARGIN, WIDTH - 2 * MARGIN, box)
    pdf.setFont(FONT, 8)
    pdf.setLineWidth(0.25)
    line_y = MARGIN + box - 11
    for line in rule_lines:
        pdf.drawString(MARGIN + 3, line_y, line, mode=FILL_STROKE)
        line_y -= 10


def _pdf_qr(pdf, content: LabelContent, texts: dict, qr_bottom: float) -> None:
    _draw_qr(pdf, content.parcel_url, MARGIN, qr_bottom, QR_SIZE)
    text_x = MARGIN + QR_SIZE + 3 * mm
    text_width = WIDTH - 2 * MARGIN - QR_SIZE - 3 * mm
    line_y = qr_bottom + QR_SIZE - 10
    pdf.setFont(FONT, 9)
    pdf.setLineWidth(0.3)
    for line in simpleSplit(texts["scan"], FONT, 9, text_width):
        pdf.drawString(text_x, line_y, line, mode=FILL_STROKE)
        line_y -= 11
    pdf.setFont(FONT, 7)
    # The address too, for a phone without a QR reader: cut where it must, not at words.
    for line in _hard_wrap(content.parcel_url, FONT, 7, text_width):
        line_y -= 9
        pdf.drawString(text_x, line_y, line)


def _rule(pdf, y: float) -> None:
    pdf.setLineWidth(0.8)
    pdf.line(MARGIN, y, WIDTH - MARGIN, y)


def _draw_fitted(pdf, text, size, x, y, width, centred=False, bold=False) -> None:
    """One line of `text`, made smaller until it fits `width`."""
    while size > 6 and pdfmetrics.stringWidth(text, FONT, size) * 1.03 > width:
        size -= 0.5
    pdf.setFont(FONT, size)
    pdf.setLineWidth(size * 0.035)
    mode = FILL_STROKE if bold else FILL
    if centred:
        pdf.drawCentredString(x + width / 2, y, text, mode=mode)
    else:
        pdf.drawString(x, y, text, mode=mode)


def _wrap_all(lines, size: float, width: float) -> list[str]:
    """`lines` wrapped at words to `width`, and a word wider than `width` cut where it must."""
    return [
        part
        for line in lines
        for words in simpleSplit(line, FONT, size, width)
        for part in _hard_wrap(words, FONT, size, width)
    ]


def _hard_wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines, current = [], ""
    for char in text:
        if current and pdfmetrics.stringWidth(current + char, font, size) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current] if current else lines


def _draw_qr(pdf, data: str, x: float, y: float, size: float) -> None:
    """segno encodes; this only draws its modules, as filled rectangles (runs of a row
    merged), with the quiet zone of four modules the standard asks for."""
    qr = segno.make_qr(data, error="m")
    matrix = qr.matrix
    count = len(matrix) + 8
    module = size / count
    pdf.setFillColorRGB(0, 0, 0)
    path = pdf.beginPath()
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 4) * module
        start = None
        for col_index, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col_index
            elif not dark and start is not None:
                path.rect(
                    x + (start + 4) * module, top - module, (col_index - start) * module, module
                )
                start = None
    pdf.drawPath(path, stroke=0, fill=1)


# --- ZPL -------------------------------------------------------------------------------------

DOTS_PER_MM = 8  # 203 dpi
ZPL_WIDTH, ZPL_HEIGHT = 100 * DOTS_PER_MM, 150 * DOTS_PER_MM


def zpl_field(text: str) -> str:
    """`^FH\\^FD<text>^FS` with the characters ZPL reads as commands (`^`, `~`) and the
    hex indicator itself written as `\\hh` hex escapes of their UTF-8 bytes."""
    escaped = "".join(
        "".join(f"\\{byte:02X}" for byte in char.encode()) if char in "^~\\" else char
        for char in text
    )
    return f"^FH\\^FD{escaped}^FS"


def render_zpl(content: LabelContent) -> bytes:
    texts = _texts(content)
    margin = 5 * DOTS_PER_MM
    inner = ZPL_WIDTH - 2 * margin
    lines = ["^XA", "^CI28", f"^PW{ZPL_WIDTH}", f"^LL{ZPL_HEIGHT}", "^LH0,0"]  # ^CI28: UTF-8
    y = margin

    def text(size: int, value: str, x: int = margin, block: str = "") -> None:
        lines.append(f"^FO{x},{y}^A0N,{size},{size}{block}" + zpl_field(value))

    text(40, content.carrier_name)
    y += 48
    if texts["hotline"]:
        text(28, texts["hotline"])
    y += 38
    lines.append(f"^FO{margin},{y}^GB{inner},3,3^FS")
    y += 14
    # ^BC: `>` starts a subset switch in its data, so a literal one is written `><`.
    lines.append(
        f"^FO{margin},{y}^BY3,3,120^BCN,120,N,N,N"
        + zpl_field(content.tracking_code.replace(">", "><"))
    )
    y += 128
    text(36, content.tracking_code, block=f"^FB{inner},1,0,C")
    y += 46
    lines.append(f"^FO{margin},{y}^GB{inner},3,3^FS")
    y += 12
    text(24, texts["recipient"])
    y += 28
    text(44, content.recipient_initials)
    y += 50
    text(32, texts["phone"])
    y += 40
    text(24, texts["address"])
    y += 30
    for line in content.address_lines:
        # A field block wraps a long line on the printer itself, onto two lines at most.
        text(24, line, block=f"^FB{inner},2,4,L")
        y += 56
    if texts["cod"]:
        y += 4
        text(36, texts["cod"])
        y += 44
    y += 8
    # ^BQN,2,5: model 2, 5 dots a module; `MA,`: error correction M, automatic mode.
    lines.append(f"^FO{margin},{y}^BQN,2,5" + zpl_field("MA," + content.parcel_url))
    beside = margin + 230
    block = f"^FB{ZPL_WIDTH - margin - beside},4,2,L"
    y += 20
    text(24, texts["scan"], x=beside, block=block)
    y += 110
    text(18, content.parcel_url, x=beside, block=block)
    y = ZPL_HEIGHT - margin - 110
    lines.append(f"^FO{margin},{y}^GB{inner},110,3^FS")
    y += 12
    text(22, texts["rule"], x=margin + 12, block=f"^FB{inner - 24},4,2,L")
    lines.append("^XZ")
    return ("\n".join(lines) + "\n").encode()


def content_for(
    assignment,
    *,
    recipient_name: str,
    recipient_phone: str,
    address_lines: list[str],
    cod_amount: int | None,
    parcel_url: str,
) -> LabelContent:
    """What the label of `assignment` shows; `recipient_phone` in E.164. The carrier's first
    hotline (the one it registered first) is printed."""
    hotline = (
        assignment.carrier.channels.filter(kind=OfficialChannel.Kind.HOTLINE)
        .order_by("id")
        .values_list("value", flat=True)
        .first()
    )
    return LabelContent(
        carrier_name=assignment.carrier.name,
        hotline=phones.display(hotline) if hotline else "",
        tracking_code=assignment.tracking_code,
        recipient_initials=mask_initials(recipient_name),
        recipient_phone_masked=mask_phone(recipient_phone),
        address_lines=tuple(address_lines),
        cod_amount=cod_amount,
        parcel_url=parcel_url,
    )


def render(content: LabelContent, label_format: str) -> bytes:
    return render_zpl(content) if label_format == "zpl" else render_pdf(content)


CONTENT_TYPES = {"pdf": "application/pdf", "zpl": "application/x-zpl"}
