"""「この場所の変更を受け取る」 in a real Chromium on a phone: the point report's button opens a
dialog with the area's Atom feed (a copyable URL and its QR code, decoded with zxing-cpp) and an
e-mail form that the real server (``serve --notify``, its worker inside) answers with a mailed
confirmation link; once confirmed, a live edit there is one more mail (aiosmtpd on loopback)."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from editcity import PASSWORD
from receivers import MailBox, links
from test_tools import decode_qr
from viewerpage import WAIT_MS, axe_violations, open_viewer, point_report

pytestmark = pytest.mark.browser
SHELTER = "E0822000085111"  # 竹園東小学校
ITEMS = "/internal/api/collections/shelters/items"


@pytest.fixture
def served(tmp_path, start_server, edit_cities):
    mailbox = MailBox().start()
    city = edit_cities.new(tmp_path)
    city.staff()
    env = {
        **city.env,
        "TSUKUBA_GIS_SMTP_HOST": "127.0.0.1",
        "TSUKUBA_GIS_SMTP_PORT": str(mailbox.port),
        "TSUKUBA_GIS_NOTIFY_INTERVAL_S": "0.1",
    }
    try:
        yield start_server(city.data_dir, env, args=("--notify",), timeout=60), mailbox
    finally:
        mailbox.stop()


def test_the_point_report_subscribes_to_the_changes_of_the_place(page, served):
    server, mailbox = served
    with httpx.Client(base_url=server.url, timeout=30, auth=("kato-bousai", PASSWORD)) as staff:
        lon, lat = staff.get(f"{ITEMS}/{SHELTER}", params={"f": "json"}).json()["geometry"]["coordinates"]
    page.set_viewport_size({"width": 390, "height": 844})
    open_viewer(page, server, f"#map=17/{lat:.6f}/{lon:.6f}&pt={lat:.6f},{lon:.6f}&lang=ja")
    point_report(page)
    page.click(".tg-subscribe-button")
    page.wait_for_selector(".tg-subscribe[open] svg.tg-qr", timeout=WAIT_MS)
    feed = page.input_value(".tg-subscribe-feed")
    query = parse_qs(urlsplit(feed).query)
    assert feed.startswith(f"{server.url}/feeds/changes.atom?") and query["radius"] == ["500"]
    assert abs(float(query["lat"][0]) - lat) < 1e-5 and query["lang"] == ["ja"]
    assert decode_qr(page.locator(".tg-subscribe svg.tg-qr").screenshot()) == [feed]
    assert httpx.get(feed).status_code == 200
    assert axe_violations(page) == []
    # Keyboard only: the field by its label, Enter sends.
    page.get_by_label("メールで受け取る：メールアドレス").fill("resident@example.jp")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.tg-subscribe-status').textContent"
        ".startsWith('確認メールを送りました')",
        timeout=WAIT_MS,
    )
    confirmation = mailbox.wait("resident@example.jp", 1)[0]
    link = next(u for u in links(confirmation) if "/subscriptions/confirm" in u)
    assert link.startswith(server.url) and httpx.post(link).status_code == 200
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('.tg-subscribe[open]')", timeout=WAIT_MS)
    assert page.evaluate("document.activeElement.classList.contains('tg-subscribe-button')")
    with httpx.Client(base_url=server.url, timeout=30, auth=("kato-bousai", PASSWORD)) as staff:
        read = staff.get(f"{ITEMS}/{SHELTER}", params={"f": "json"})
        patched = staff.patch(
            f"{ITEMS}/{SHELTER}",
            json={"properties": {"status": "開設"}},
            headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
    notification = mailbox.wait("resident@example.jp", 2, timeout=20)[1]
    assert "指定避難所「竹園東小学校」が開設されました" in notification.get_content()
