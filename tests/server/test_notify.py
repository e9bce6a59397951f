"""E-mail subscriptions and webhooks (issue 16) on both stores, with real receivers on loopback:
an SMTP server (aiosmtpd) and an HTTP server checking signatures (tests/receivers.py).

The app runs in-process (Starlette's TestClient: the process boundary is not what is tested
here, tests/server/test_notify_kill.py kills a real worker process); the delivery worker is the
real one, its rounds driven by the test so each step is seen on its own. The city: the edit
city (shelters, road areas, boundary) and the PLATEAU zoning, loaded a second time from a copy of
the sources whose second edition changes the zoning polygon's use.
"""

import shutil
import time
from urllib.parse import urlsplit

import pytest
from editcity import PASSWORD, edit_city_for
from fastapi.testclient import TestClient
from receivers import Hooks, MailBox, body, links
from test_feeds import ELSEWHERE, SHELTER, ZONE, ZONING_JA, _second_edition

from etl.runner import run_etl
from server.app import create_app
from server.notify.settings import NotifySettings
from server.notify.worker import Worker
from tsukuba_gis.settings import PROJECT_ROOT

ITEMS = "/internal/api/collections/shelters/items"
PATCH = {"Content-Type": "application/merge-patch+json"}
SENTENCE = "指定避難所「竹園東小学校」が開設されました"
BOUSAI, KANRI = ("kato-bousai", PASSWORD), ("sato-kanri", PASSWORD)


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def city(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"notify-{request.param}")
    city = edit_city_for(request, root)
    shutil.copytree(PROJECT_ROOT / "sources", root / "sources")
    city.settings = city.settings.model_copy(
        update={"sources_dir": root / "sources", "public_url": "http://testserver"}
    )
    assert run_etl(city.settings, ["zoning"], quiet=True).ok
    city.staff()
    return city


@pytest.fixture(scope="module")
def mailbox(city):  # one per store: the addresses are the same in both
    box = MailBox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def hooks(city):
    receiver = Hooks(hang_s=1.0).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def notify_settings(mailbox):
    return NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_from="map@city.tsukuba.example",
        notify_digest_max=3,
        notify_max_attempts=3,
        notify_backoff_base_s=0.01,
        notify_backoff_max_s=0.04,
        webhook_timeout_s=0.3,
        subscribe_per_address=2,
        subscribe_per_client=1000,
    )


@pytest.fixture(scope="module")
def client(city, notify_settings):
    with TestClient(
        create_app(city.settings, city.auth, notify_settings=notify_settings), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def worker(client, notify_settings):
    worker = Worker(client.app.state.snapshots, notify_settings)
    yield worker
    worker.close()


def local(url: str) -> str:
    """A link of a mail as the TestClient asks it."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver", url
    return f"{parts.path}?{parts.query}"


def subscribe(client, mailbox, address: str, **area) -> str:
    """Subscribe and confirm through the mailed link; the confirmation page's path."""
    answer = client.post("/subscriptions", json={"email": address, **area})
    assert answer.status_code == 202, answer.text
    assert answer.json()["description"].startswith(("確認メールを送りました", "A confirmation mail"))
    confirmation = mailbox.wait(address, 1)[-1]
    link = local(next(u for u in links(confirmation) if "/subscriptions/confirm?token=" in u))
    page = client.get(link)
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert client.post(link).status_code == 200
    return link


def open_shelter(client, status: str = "開設", fid: str = SHELTER) -> None:
    read = client.get(f"{ITEMS}/{fid}", params={"f": "json"}, auth=BOUSAI)
    answer = client.patch(
        f"{ITEMS}/{fid}",
        json={"properties": {"status": status}},
        headers={**PATCH, "If-Match": read.headers["etag"]},
        auth=BOUSAI,
    )
    assert answer.status_code == 200, answer.text


def shelter_point(client) -> dict:
    lon, lat = client.get(f"{ITEMS}/{SHELTER}", params={"f": "json"}, auth=BOUSAI).json()["geometry"][
        "coordinates"
    ]
    return {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}


def test_a_resident_gets_the_confirmation_then_one_mail_when_the_shelter_opens(client, mailbox, worker):
    address = "resident@example.jp"
    here = shelter_point(client)
    subscribe(client, mailbox, address, **here, radius="300")
    assert "確認" in mailbox.to(address)[0]["Subject"]
    worker.round()  # nothing changed since the confirmation: nothing sent
    assert len(mailbox.to(address)) == 1
    open_shelter(client)
    worker.round()
    worker.round()
    mails = mailbox.wait(address, 2)
    assert len(mails) == 2, [m["Subject"] for m in mails]
    mail = mails[1]
    assert (
        mail["Subject"] == "【つくば市】地図データの変更 1件" and mail["From"] == "map@city.tsukuba.example"
    )
    text = body(mail)
    assert f"・{SENTENCE}" in text and "開設状況: 未開設 → 開設" in text
    assert mail["Message-ID"].startswith("<mail.") and mail["List-Unsubscribe"].startswith(
        "<http://testserver/"
    )
    feed = next(u for u in links(mail) if "/feeds/changes.atom" in u)
    entries = client.get(local(feed)).text
    assert SENTENCE in entries  # the area feed of the mail shows the entry
    assert "kato" not in text and "disaster" not in text


def test_an_etl_run_changing_the_zoning_mails_that_area_and_not_another(client, mailbox, worker, city):
    subscribe(client, mailbox, "zone@example.jp", **ZONE, radius="300")
    subscribe(client, mailbox, "center@example.jp", **ELSEWHERE, radius="2000", lang="en")
    _second_edition(city.settings.sources_dir)
    assert run_etl(city.settings, ["zoning"], quiet=True).ok
    worker.round()
    zone = mailbox.wait("zone@example.jp", 2)
    assert ZONING_JA in body(zone[1]) and len(zone) == 2
    assert len(mailbox.to("center@example.jp")) == 1  # the confirmation only
    assert "Please confirm" in mailbox.to("center@example.jp")[0]["Subject"]


def test_many_changes_at_once_are_one_digest_mail(client, mailbox, worker):
    address = "digest@example.jp"
    subscribe(client, mailbox, address, bbox="140.0,35.9,140.3,36.3", layer="shelters", lang="en")
    page = client.get(ITEMS, params={"f": "json", "limit": 5}, auth=BOUSAI).json()
    for feature in page["features"]:
        open_shelter(client, "閉鎖", feature["id"])
    worker.round()
    mails = mailbox.wait(address, 2)
    time.sleep(0.05)
    assert len(mailbox.to(address)) == 2
    text = body(mails[1])
    assert mails[1]["Subject"] == "[Tsukuba City] 5 change(s) to the map data"
    assert text.count("\n・") == 3 and "2 more: see the feed of the area:" in text
    assert "/feeds/changes.atom?bbox=140.0,35.9,140.3,36.3&layer=shelters&lang=en" in text


def test_unsubscribing_deletes_the_address_and_forged_tokens_are_refused(client, mailbox, worker, city):
    address = "leaving@example.jp"
    subscribe(client, mailbox, address, **shelter_point(client))
    open_shelter(client, "未開設")
    worker.round()
    mail = mailbox.wait(address, 2)[1]
    link = local(mail["List-Unsubscribe"].strip("<>"))
    page = client.get(link)
    assert page.status_code == 200 and "配信を停止する" in page.text
    token = link.split("token=")[1]
    number, signature = token.split(".")
    for forged in (f"{number}.{'0' * len(signature)}", f"{int(number) + 1}.{signature}", "x", ""):
        refused = client.post(f"/subscriptions/unsubscribe?token={forged}")
        assert refused.status_code == 404 and refused.json()["code"] == "NotFound", forged
    assert client.get("/subscriptions/confirm?token=forged").status_code == 404
    assert client.post(link).status_code == 200
    assert client.post(link).status_code == 404  # gone
    store = client.app.state.store
    assert store.subscription(int(number)) is None
    open_shelter(client, "開設")
    worker.round()
    assert len(mailbox.to(address)) == 2


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"email": "not-an-address", "lat": "36.08", "lon": "140.11"}, "email: not an e-mail address"),
        ({"email": "a" * 250 + "@example.jp", "lat": "36.08", "lon": "140.11"}, "email: at most 254"),
        ({"email": "a@example.jp", "lat": "35.0", "lon": "139.0"}, "outside Tsukuba City"),
        ({"email": "a@example.jp", "lat": "36.08", "lon": "140.11", "radius": "5000"}, "radius: more than 0"),
        ({"email": "a@example.jp"}, "give an area"),
        ({"email": "a@example.jp", "town": "存在しない町"}, "town:"),
        ({"email": "a@example.jp", "bbox": "140.1,36.0", "layer": "shelters_staff"}, "layer: no such layer"),
    ],
)
def test_bad_subscriptions_are_a_clear_400(client, given, says):
    answer = client.post("/subscriptions", json=given)
    assert answer.status_code == 400 and says in answer.json()["description"], answer.text
    assert set(answer.json()) == {"code", "type", "description"}


def test_subscriptions_are_rate_limited_per_address(client, mailbox):
    form = {"email": "often@example.jp", "lat": "36.08", "lon": "140.11"}
    for _ in range(2):
        assert client.post("/subscriptions", data=form).status_code == 202
    answer = client.post("/subscriptions", data=form)
    assert answer.status_code == 429 and answer.json()["code"] == "TooManyRequests"
    assert int(answer.headers["retry-after"]) > 0 and "this address" in answer.json()["description"]
    assert (
        client.post(
            "/subscriptions", content="x" * 5000, headers={"Content-Type": "application/json"}
        ).status_code
        == 413
    )
    assert (
        client.post("/subscriptions", content="email=x", headers={"Content-Type": "text/plain"}).status_code
        == 400
    )


def test_webhooks_are_signed_retried_dead_and_redelivered(client, hooks, worker):
    made = {}
    for path, mode in (("/ok", "ok"), ("/fail", "fail"), ("/hang", "hang")):
        answer = client.post(
            "/internal/webhooks", json={"url": f"{hooks.url}{path}", "layer": "shelters"}, auth=KANRI
        )
        assert answer.status_code == 201, answer.text
        made[path] = answer.json()["id"]
        hooks.modes[path], hooks.secrets[path] = mode, answer.json()["secret"]
    open_shelter(client, "閉鎖")
    for _ in range(3):
        worker.round()
        time.sleep(0.05)
    [ok] = hooks.wait("/ok", 1)
    assert ok.signed and ok.key.startswith(f"webhook:{made['/ok']}:")
    change = ok.body["changes"][0]
    assert change["layer"] == "shelters" and change["feature"] == SHELTER and change["kind"] == "modified"
    assert change["title"] == {
        "ja": "指定避難所「竹園東小学校」が閉鎖されました",
        "en": "Designated evacuation shelters: 竹園東小学校 has closed",
    }
    assert change["map_url"].startswith("http://testserver/#map=17/") and ok.body["id"] == ok.key
    assert len(hooks.wait("/fail", 3)) == 3  # retried, then dead
    dead = client.get("/internal/deliveries", params={"status": "dead"}, auth=KANRI).json()["deliveries"]
    errors = {d["target"]: d["last_error"] for d in dead}
    assert errors == {made["/fail"]: "HTTP 500", made["/hang"]: "no answer within 0.3 s"}
    hooks.modes["/fail"] = "ok"
    key = next(d["key"] for d in dead if d["target"] == made["/fail"])
    assert client.post("/internal/deliveries/redeliver", params={"key": key}, auth=KANRI).json() == {
        "redelivered": 1
    }
    worker.round()
    again = hooks.wait("/fail", 4)[-1]
    assert again.signed and again.key == key and again.body == hooks.of("/fail")[0].body
    for hook_id in made.values():
        assert client.delete(f"/internal/webhooks/{hook_id}", auth=KANRI).status_code == 204


def test_webhook_registration_is_for_admins_with_a_sound_url(client):
    assert client.get("/internal/webhooks", auth=BOUSAI).status_code == 403
    assert client.get("/internal/webhooks").status_code == 401
    for url, says in (
        ("ftp://example.jp/hook", "http:// or https://"),
        ("http://testserver/api", "this server itself"),
        ("http://127.0.0.1:80/x", "this server itself"),
        ("http://user:pw@example.jp/", "no user or password"),
    ):
        answer = client.post("/internal/webhooks", json={"url": url}, auth=KANRI)
        assert answer.status_code == 400 and says in answer.json()["description"], (url, answer.text)
    answer = client.post(
        "/internal/webhooks",
        json={"url": "https://bousai.example.jp/h", "radius": "9000", "lat": "36.08", "lon": "140.11"},
        auth=KANRI,
    )
    assert answer.status_code == 400 and "radius" in answer.json()["description"]


def test_one_worker_leads_another_waits_for_its_lease(client, notify_settings, worker):
    other = Worker(client.app.state.snapshots, notify_settings)
    try:
        assert worker.round()  # holds the lease (taken in the earlier rounds, renewed)
        assert not other.round()  # a second worker (another process, another host) waits
        worker.store.release_lease(worker.holder)
        assert other.round() and not worker.round()
    finally:
        other.close()  # gives the lease up
    assert worker.round()


def test_a_mail_server_that_does_not_answer_is_a_503(client, notify_settings, mailbox):
    from liveserver import free_port

    port, notify_settings.smtp_port = notify_settings.smtp_port, free_port()  # nobody listens there
    try:
        answer = client.post(
            "/subscriptions", json={"email": "nomail@example.jp", "lat": "36.08", "lon": "140.11"}
        )
    finally:
        notify_settings.smtp_port = port
    assert answer.status_code == 503 and answer.json()["code"] == "ServiceUnavailable"
    assert answer.headers["retry-after"] == "60" and "e-mail subscriptions are not available" in answer.text
    assert mailbox.to("nomail@example.jp") == []
