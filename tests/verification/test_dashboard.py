import csv
import io
import re

import pytest

from verification import dashboard, services, stats
from verification.models import DailyLookupStat
from verification.services import Lookup, verify

URL = "/admin/dashboard/"


@pytest.fixture
def activity(staff_a, staff_b, carrier_a):
    """Lookups of A's staff, a false claim of A by B's number, and reports naming A."""
    for _ in range(3):
        verify("0912345678")
    verify("0933 444 555", Lookup(claimed_carrier="alpha-post"))
    for reporter in ["r1", "r2"]:
        services.report_submit(
            number="0901 111 222",
            reporter=services.reporter_digest("t", reporter),
            claimed_carrier=carrier_a,
        )


def test_an_operator_sees_their_own_carrier(client, alice, activity):
    client.force_login(alice)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alpha Post" in html and "Beta Express" not in html
    assert "<svg" in html and "+84901111222" in html
    charts = {chart["name"]: chart for chart in page.context["charts"]}
    assert charts["staff_lookups"]["total"] == 3
    assert charts["impersonation_lookups"]["total"] == 1
    assert charts["reports"]["total"] == 2
    assert page.context["top_numbers"][0] == {
        "number": "+84901111222",
        "reporters": 2,
        "reports": 2,
    }


def test_an_operator_cannot_ask_for_another_carrier(client, bob, alice, activity):
    client.force_login(bob)
    assert client.get(URL + "?carrier=alpha-post").status_code == 404
    page = client.get(URL)
    assert page.context["carrier"].slug == "beta-express"
    charts = {chart["name"]: chart["total"] for chart in page.context["charts"]}
    # B's own number was looked up once (by someone told it was A's): B sees that, not A's.
    assert charts == {
        "staff_lookups": 1,
        "impersonation_lookups": 0,
        "reports": 0,
        "alerts_delivered": 0,
        "parcel_page_visits": 0,
    }


def test_a_superuser_picks_a_carrier(client, root, activity):
    client.force_login(root)
    page = client.get(URL + "?carrier=alpha-post")
    assert page.context["carrier"].slug == "alpha-post"
    assert 'name="carrier"' in page.content.decode()


def test_a_user_without_a_carrier_gets_nothing(client, charlie, activity):
    client.force_login(charlie)
    assert client.get(URL).status_code == 404


def test_the_numbers_export_as_csv(client, alice, activity):
    client.force_login(alice)
    response = client.get(URL + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "day",
        "staff_lookups",
        "impersonation_lookups",
        "reports",
        "alerts_delivered",
        "parcel_page_visits",
    ]
    assert len(rows) == 31
    assert rows[-1][1:4] == ["3", "1", "2"]


def test_the_rollup_copies_counters_into_daily_rows_and_is_idempotent(activity, carrier_a):
    services.stats_rollup(days=stats.recent_days())
    services.stats_rollup(days=stats.recent_days())
    rows = {(row.outcome, row.count) for row in DailyLookupStat.objects.filter(carrier=carrier_a)}
    assert rows == {("staff", 3), ("impersonation", 1)}


def test_the_dashboard_is_linked_from_the_admin_index(client, alice):
    client.force_login(alice)
    assert URL in client.get("/admin/").content.decode()


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_bars_are_drawn_in_every_language(client, alice, activity, settings, language):
    """SVG lengths are numbers with a decimal point: Vietnamese formatting (116,0) would
    leave every chart empty."""
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(URL).content.decode()
    bars = re.findall(r'<rect x="([^"]*)" y="([^"]*)" width="([^"]*)" height="([^"]*)"', html)
    assert len(bars) == len(dashboard.SERIES) * dashboard.DAYS
    heights = [float(height) for _x, _y, _w, height in bars]  # raises on "116,0"
    assert sum(1 for height in heights if height > 0) >= 3
    for viewbox in re.findall(r'<svg viewBox="([^"]*)"', html):
        assert [float(part) for part in viewbox.split()] == [0, 0, 600, 120]


def test_the_chart_titles_are_in_vietnamese(client, alice, activity):
    client.force_login(alice)
    html = client.get(URL).content.decode()
    assert "Lookups of your staff numbers" not in html
    assert "Số lần tra cứu số nhân viên của bạn" in html
