"""Demo data: two clearly fictional carriers, their staff and one operator login each.

Idempotent: run it again and it converges on the same rows (passwords reset included)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from registry import services
from registry.models import StaffMember

DEMO_PASSWORD = "demo-registry-2026"

CARRIERS = [
    {
        "slug": "demo-post",
        "name": "Bưu chính Mẫu (DEMO Post)",
        "hotlines": ["1900 0001"],
        "website": "https://demo-post.example",
        "staff": [
            ("DP001", "Nguyễn Văn An", "active", "Hà Nội", ["0912 000 001"]),
            ("DP002", "Trần Thị Bình", "active", "Hà Nội", ["0912 000 002", "0988 000 002"]),
            ("DP003", "Lê Văn Cường", "terminated", "Hà Nội", ["0912 000 003"]),
        ],
    },
    {
        "slug": "demo-express",
        "name": "Giao Nhanh Thử (DEMO Express)",
        "hotlines": ["1900 0002"],
        "website": "https://demo-express.example",
        "staff": [
            ("DX001", "Phạm Minh Đức", "active", "TP. Hồ Chí Minh", ["0933 000 001"]),
            # One shipper working for two carriers: the same phone at both.
            ("DX002", "Trần Thị Bình", "active", "Hà Nội", ["0912 000 002"]),
        ],
    },
]

DEMO_ASSIGNMENT = {
    "carrier": "demo-post",
    "tracking_code": "DEMO0001VN",
    "employee_code": "DP001",
    "recipient_phone": "0901 000 999",
}


class Command(BaseCommand):
    help = "Load idempotent demo data: fictional carriers, staff, phones and operator logins."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        carriers = {}
        for spec in CARRIERS:
            carrier, _created = services.carrier_save(
                slug=spec["slug"], name=spec["name"], hotlines=spec["hotlines"]
            )
            carriers[carrier.slug] = carrier
            if not carrier.channels.filter(kind="website").exists():
                services.channel_save(carrier=carrier, kind="website", value=spec["website"])
            for code, full_name, status, region, numbers in spec["staff"]:
                services.staff_upsert(
                    carrier=carrier,
                    employee_code=code,
                    full_name=full_name,
                    status=status,
                    region=region,
                    phone_numbers=numbers,
                )
            user, _created = User.objects.get_or_create(username=f"{carrier.slug}-operator")
            user.set_password(DEMO_PASSWORD)
            user.save()
            services.operator_assign(user=user, carrier=carrier)
            self.stdout.write(f"Operator of {carrier.name}: {user.username} / {DEMO_PASSWORD}")

        now = timezone.now()
        spec = DEMO_ASSIGNMENT
        services.assignment_upsert(
            carrier=carriers[spec["carrier"]],
            tracking_code=spec["tracking_code"],
            staff=StaffMember.objects.get(
                carrier=carriers[spec["carrier"]], employee_code=spec["employee_code"]
            ),
            recipient_phone=spec["recipient_phone"],
            window_start=now,
            window_end=now + timedelta(hours=4),
            status="out_for_delivery",
        )
        self.stdout.write("Demo data loaded.")
