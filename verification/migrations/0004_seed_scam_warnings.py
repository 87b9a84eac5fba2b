"""The scam patterns recipients meet, so the warnings page is useful from the first run.
Managed in the admin afterwards; this migration only adds them to an empty table."""

from django.db import migrations

WARNINGS = [
    (
        "Shipper đòi chuyển khoản “phí ship” hoặc quét mã QR",
        "A “shipper” asks for a transfer or a “shipping fee” by QR code",
        "Kẻ gian gọi báo có đơn hàng, rồi yêu cầu chuyển khoản phí giao hàng, phí lưu kho "
        "hoặc quét mã QR để “xác nhận”. Shipper thật chỉ thu đúng số tiền thu hộ (COD) in trên "
        "kiện hàng, khi giao hàng tận tay.",
        "A caller says a parcel is waiting, then asks for a transfer for delivery, storage or "
        "“confirmation”, often by QR code. A real shipper only collects the cash-on-delivery "
        "amount printed on the parcel, when handing it over.",
    ),
    (
        "Shipper xin mã OTP",
        "A “shipper” asks for an OTP",
        "Không ai giao hàng cần mã OTP của bạn. Mã OTP dùng để đăng nhập hoặc chuyển tiền từ tài "
        "khoản của bạn. Đừng đọc mã OTP cho bất kỳ ai qua điện thoại.",
        "No delivery needs your OTP. An OTP logs into or moves money out of your account. Never "
        "read an OTP to anyone on the phone.",
    ),
    (
        "Shipper gửi đường link để “cập nhật địa chỉ” hoặc “nhận hàng”",
        "A “shipper” sends a link to “update the address” or “receive the parcel”",
        "Đường link dẫn tới trang giả mạo để lấy thông tin thẻ, mật khẩu hoặc cài ứng dụng độc "
        "hại. Đừng bấm vào link lạ; hãy tự mở ứng dụng hoặc trang web chính thức của hãng.",
        "The link leads to a fake page that steals card details or passwords, or installs a "
        "malicious app. Do not click; open the carrier's official app or website yourself.",
    ),
    (
        "Tin nhắn SMS có số tổng đài giả",
        "An SMS with a fake hotline",
        "Tin nhắn báo giao hàng thất bại và mời gọi lại một số “tổng đài”. Chỉ gọi số tổng đài "
        "được công bố trên trang Tổng đài chính thức của trang này hoặc trên website của hãng.",
        "A text says a delivery failed and asks you to call a “hotline”. Only call the numbers "
        "on this site's official hotlines page or on the carrier's own website.",
    ),
    (
        "Người gọi biết rõ đơn hàng của bạn",
        "The caller knows your order details",
        "Kẻ gian có thể biết tên, địa chỉ, món hàng bạn đặt do dữ liệu bị lộ. Biết thông tin đơn "
        "hàng không chứng minh họ là shipper thật. Hãy kiểm tra số gọi đến tại đây.",
        "Scammers may know your name, address and what you ordered from leaked data. Knowing "
        "the order does not prove they are the real shipper. Check the calling number here.",
    ),
    (
        "Số hiện trên màn hình có thể bị giả",
        "The number on your screen can be faked",
        "Kẻ gian có thể làm giả số gọi đến. Kể cả khi số đã được xác minh, đừng bao giờ đưa mã "
        "OTP, chuyển tiền ngoài số COD trên kiện hàng, hay bấm vào link.",
        "Scammers can fake the calling number. Even when a number is verified, never give an "
        "OTP, transfer beyond the COD amount on the parcel, or click a link.",
    ),
]


def seed(apps, schema_editor):
    ScamWarning = apps.get_model("verification", "ScamWarning")
    if ScamWarning.objects.exists():
        return
    ScamWarning.objects.bulk_create(
        ScamWarning(title_vi=tv, title_en=te, body_vi=bv, body_en=be, position=index)
        for index, (tv, te, bv, be) in enumerate(WARNINGS)
    )


class Migration(migrations.Migration):
    dependencies = [("verification", "0003_reports_alerts_stats")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
