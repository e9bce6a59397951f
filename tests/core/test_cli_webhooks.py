"""``tsukuba-gis webhooks add|list|remove|dead|redeliver`` and ``tsukuba-gis notify --once``
(issue 16) through the real command line (click's CliRunner), a webhook receiver on loopback."""

import pytest
from click.testing import CliRunner
from receivers import Hooks

from tsukuba_gis.cli.main import cli
from tsukuba_gis.store import open_store
from tsukuba_gis.store.base import Editor, EditRequest

SHELTER = "E0822000085111"  # 竹園東小学校, inside the webhook's area


def run(env, *args, code=0):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def city(tmp_path_factory, edit_cities):
    return edit_cities.new(tmp_path_factory.mktemp("cli-webhooks"))


@pytest.fixture(scope="module")
def hooks():
    receiver = Hooks().start()
    yield receiver
    receiver.stop()


def test_an_admin_adds_lists_and_removes_webhooks_and_redelivers_the_dead(city, hooks):
    env = {
        **city.env,
        "TSUKUBA_GIS_PUBLIC_URL": "http://127.0.0.1:8000",
        "TSUKUBA_GIS_NOTIFY_MAX_ATTEMPTS": "1",
    }
    added = run(
        env,
        "webhooks",
        "add",
        f"{hooks.url}/cli",
        "--layer",
        "shelters",
        "--lat",
        "36.08",
        "--lon",
        "140.11",
        "--radius",
        "2000",
    )
    secret = added.split("secret (shown once, give it to the receiver): ")[1].strip()
    hooks.secrets["/cli"], hooks.modes["/cli"] = secret, "fail"
    listed = run(env, "webhooks", "list")
    assert (
        f"{hooks.url}/cli\tpublic\tlat=36.08&lon=140.11&radius=2000\tshelters" in listed
        and secret not in listed
    )
    refused = run(env, "webhooks", "add", "http://127.0.0.1:8000/api", code=2)
    assert "points at this server itself" in refused
    assert "http:// or https://" in run(env, "webhooks", "add", "file:///etc/passwd", code=2)
    assert "no such layer" in run(env, "webhooks", "add", f"{hooks.url}/x", "--layer", "nope", code=2)
    store = open_store(city.settings.store_url)
    hook = store.webhooks()[0]
    editor = Editor("kato-bousai", "disaster", "cli")
    store.edit(
        store.current("shelters"), EditRequest("modify", SHELTER, editor, properties={"status": "開設"})
    )
    [record] = store.change_records(after=0, layers=["shelters"])
    key = f"webhook:{hook.id}:{record.id}-{record.id}"
    run(env, "notify", "--once")
    assert [h.key for h in hooks.of("/cli")] == [key] and hooks.of("/cli")[0].signed
    assert f"{key}\t1 attempts\tHTTP 500" in run(env, "webhooks", "dead")
    hooks.modes["/cli"] = "ok"
    assert "1 deliveries pending again" in run(env, "webhooks", "redeliver", key)
    run(env, "notify", "--once")
    assert [h.key for h in hooks.of("/cli")] == [key, key] and run(env, "webhooks", "dead") == ""
    assert "give a KEY or --all" in run(env, "webhooks", "redeliver", code=2)
    assert f"removed webhook {hook.id}" in run(env, "webhooks", "remove", str(hook.id))
    assert f"no webhook {hook.id}" in run(env, "webhooks", "remove", str(hook.id), code=1)
