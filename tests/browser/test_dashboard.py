"""The carrier dashboard's charts in a real Chromium: bars with a height, in Vietnamese (the
admin's default) and in English."""

import pytest

from tests.verification.test_dashboard import activity  # noqa: F401  (a fixture)

from .test_admin_enrol import admin_page, log_in  # noqa: F401  (admin_page is a fixture)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("language", "title"),
    [("vi", "Số lần tra cứu số nhân viên của bạn"), ("en", "Lookups of your staff numbers")],
)
def test_the_charts_draw_their_bars(admin_page, alice, activity, screenshot, language, title):  # noqa: F811
    page = admin_page
    log_in(page, "alice", "alice-password", "/admin/")
    page.goto(f"/admin/dashboard/?lang={language}")
    assert page.get_attribute("html", "lang") == language
    assert title in page.inner_text("#chart-staff_lookups h2")
    drawn = {}
    for chart in ["staff_lookups", "impersonation_lookups", "reports"]:
        heights = page.eval_on_selector_all(
            f"#chart-{chart} rect", "rects => rects.map(r => r.getBoundingClientRect().height)"
        )
        assert len(heights) == 30
        drawn[chart] = sum(1 for height in heights if height > 1)
    assert drawn == {"staff_lookups": 1, "impersonation_lookups": 1, "reports": 1}
    screenshot(page, f"dashboard-{language}")
