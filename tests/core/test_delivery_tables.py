"""The delivery tables (issue 16) through the Store interface, the same tests on both stores:
subscriptions, webhooks, deliveries planned with the cursor in one transaction, the lease."""

from tsukuba_gis.store.notify import Delivery, Reach

AREA = Reach(
    ("shelters",), "lat=36.08&lon=140.11&radius=500", (140.1, 36.07, 140.12, 36.09), (140.11, 36.08), 500.0
)


def _delivery(key: str, target: int = 1, kind: str = "mail") -> Delivery:
    return Delivery(key, kind, target, 1, 2, '{"subject": "s"}')


def test_a_subscription_is_kept_confirmed_and_forgotten(store):
    store.migrate()
    sid = store.add_subscription("a@example.jp", "ja", AREA, "hash-1", 100.0)
    assert store.notify_targets() == ([], [])  # not confirmed yet
    found = store.subscription_by_confirm("hash-1")
    assert found.id == sid and found.email == "a@example.jp" and found.reach == AREA and not found.confirmed
    store.confirm_subscription(sid)
    subscriptions, webhooks = store.notify_targets()
    assert [s.id for s in subscriptions] == [sid] and subscriptions[0].confirmed and webhooks == []
    assert store.plan_deliveries(store.notify_cursor(), 5, [_delivery("mail:x", sid)], 1.0)
    assert store.delete_subscription(sid) and store.subscription(sid) is None
    assert store.due_deliveries(2.0, 10) == []  # its unsent mail went with it
    assert not store.delete_subscription(sid)
    old = store.add_subscription("b@example.jp", "en", Reach(), "hash-2", 10.0)
    assert store.prune_subscriptions(50.0) == 1 and store.subscription(old) is None


def test_deliveries_are_planned_with_the_cursor_once(store):
    store.migrate()
    assert store.notify_cursor() == 0
    assert store.plan_deliveries(
        0, 7, [_delivery("mail:1:1-7"), _delivery("webhook:1:1-7", kind="webhook")], 5.0
    )
    assert store.notify_cursor() == 7
    # a second worker that read the old cursor plans nothing
    assert not store.plan_deliveries(0, 9, [_delivery("mail:1:1-9")], 5.0)
    assert [d.key for d in store.due_deliveries(6.0, 10)] == ["mail:1:1-7", "webhook:1:1-7"]
    assert store.due_deliveries(4.0, 10) == []
    store.delivery_done("mail:1:1-7", "sent", 1, 6.0, None, 6.0)
    store.delivery_done("webhook:1:1-7", "dead", 5, 6.0, "HTTP 500", 6.0)
    assert store.due_deliveries(100.0, 10) == []
    dead = store.deliveries("dead")
    assert [(d.key, d.attempts, d.last_error) for d in dead] == [("webhook:1:1-7", 5, "HTTP 500")]
    assert store.redeliver("webhook:1:1-7", 7.0) == 1 and store.redeliver(None, 7.0) == 0
    again = store.due_deliveries(7.0, 10)
    assert [(d.key, d.attempts, d.payload) for d in again] == [("webhook:1:1-7", 0, '{"subject": "s"}')]
    assert store.prune_deliveries(10.0) == 1 and [d.key for d in store.deliveries()] == ["webhook:1:1-7"]


def test_webhooks_are_kept_and_removed(store):
    store.migrate()
    hook_id = store.add_webhook("http://127.0.0.1:9/hook", "s3cret", "public", AREA, 1.0)
    hook = store.webhooks()[0]
    assert (hook.id, hook.url, hook.secret, hook.reach, hook.after_id) == (
        hook_id,
        "http://127.0.0.1:9/hook",
        "s3cret",
        AREA,
        0,
    )
    assert store.plan_deliveries(0, 3, [_delivery("webhook:h", hook_id, "webhook")], 1.0)
    assert store.remove_webhook(hook_id) and store.webhooks() == [] and store.due_deliveries(9.0, 9) == []


def test_one_worker_holds_the_lease_until_it_expires(store):
    store.migrate()
    assert store.take_lease("host-a:1", 100.0, 10.0)
    assert store.take_lease("host-a:1", 105.0, 10.0)  # renewed
    assert not store.take_lease("host-b:2", 110.0, 10.0)
    assert store.take_lease("host-b:2", 116.0, 10.0)  # expired
    store.release_lease("host-b:2")
    assert store.take_lease("host-a:1", 117.0, 10.0)
    secret = store.notify_secret()
    assert len(secret) == 64 and store.notify_secret() == secret
