"""What the delivery of change records needs stored (issue 16), the same in every store:
e-mail subscriptions, webhooks, the planned deliveries and the worker's cursor and lease.

The SQL is written once, here, with ``?`` marks and ``{s}.`` before table names; a backend only
runs it in one transaction (``_notify_tx(work)``: the GeoPackage store strips ``{s}.``, PostGIS binds
its schema and uses ``%s``). Times are Unix seconds (float) in both stores.

Delivery guarantees: the worker writes the deliveries it planned from a batch of records and
the cursor past that batch in one transaction, compare-and-set on the old cursor; a kill before
the commit plans the batch again, one after it finds the rows. Every delivery has an idempotency
key (its primary key) that the receiver gets as ``Message-ID`` or a header, so a send repeated
after a crash between the receiver's answer and ``delivery_done`` can be recognised.
"""

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Run = Callable[[str, Sequence[Any]], list[tuple]]
Status = Literal["pending", "sent", "dead"]
T = TypeVar("T")

MIGRATION = [  # both stores; a backend adapts the types (postgis_notify.py)
    """CREATE TABLE {s}.tg_subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL, lang TEXT NOT NULL,
        area TEXT NOT NULL, layers TEXT NOT NULL, min_x REAL, min_y REAL, max_x REAL, max_y REAL,
        cx REAL, cy REAL, radius_m REAL,
        confirm_hash TEXT NOT NULL UNIQUE, confirmed INTEGER NOT NULL DEFAULT 0,
        after_id INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL)""",
    """CREATE TABLE {s}.tg_webhooks (
        id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, secret TEXT NOT NULL,
        audience TEXT NOT NULL, area TEXT NOT NULL, layers TEXT NOT NULL, min_x REAL, min_y REAL,
        max_x REAL, max_y REAL, cx REAL, cy REAL, radius_m REAL,
        after_id INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL)""",
    """CREATE TABLE {s}.tg_deliveries (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('mail', 'webhook')),
        target INTEGER NOT NULL, first_record INTEGER NOT NULL, last_record INTEGER NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_error TEXT,
        created_at REAL NOT NULL, sent_at REAL)""",
    "CREATE INDEX tg_deliveries_due ON {s}.tg_deliveries (status, next_at)",
    """CREATE TABLE {s}.tg_notify_state (name TEXT PRIMARY KEY, value TEXT NOT NULL,
        expires_at REAL)""",
    # Deliveries start at the records already there: nothing old is sent to anyone.
    """INSERT INTO {s}.tg_notify_state (name, value)
        SELECT 'cursor', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM {s}.tg_change_records""",
]
_MAX_RECORD = "(SELECT COALESCE(MAX(id), 0) FROM {s}.tg_change_records)"
_AREA = "min_x, min_y, max_x, max_y, cx, cy, radius_m"
_SUBSCRIPTION = f"id, email, lang, area, layers, {_AREA}, confirmed, after_id, created_at"
_WEBHOOK = f"id, url, secret, audience, area, layers, {_AREA}, after_id, created_at"
_DELIVERY = (
    "key, kind, target, first_record, last_record, payload, status, attempts, next_at,"
    " last_error, created_at, sent_at"
)


@dataclass(frozen=True)
class Reach:
    """What a subscriber follows: some layers (empty: all) and an area (None: the whole city).

    Attributes:
        area: the feed parameters it was given as (``lat=..&lon=..&radius=..``, ``town=..``,
            ``bbox=..``), for links to the area's feed.
        box: lon/lat box; center, radius_m: the circle inside it (None for a box).
    """

    layers: tuple[str, ...] = ()
    area: str = ""
    box: tuple[float, float, float, float] | None = None
    center: tuple[float, float] | None = None
    radius_m: float | None = None

    def values(self) -> tuple:
        """The values of the area columns."""
        box = self.box or (None, None, None, None)
        center = self.center or (None, None)
        return (*box, *center, self.radius_m)


def _reach(layers: str, area: str, row: Sequence[Any]) -> Reach:
    box = None if row[0] is None else (row[0], row[1], row[2], row[3])
    center = None if row[4] is None else (row[4], row[5])
    return Reach(tuple(filter(None, layers.split(","))), area, box, center, row[6])


@dataclass(frozen=True)
class Subscription:
    """An e-mail subscription: only the address, the language and what it follows."""

    id: int
    email: str
    lang: str
    reach: Reach
    confirmed: bool
    after_id: int
    created_at: float


@dataclass(frozen=True)
class Webhook:
    """A city system's URL that receives signed JSON (``audience``: what of a change it sees)."""

    id: int
    url: str
    secret: str
    audience: str
    reach: Reach
    after_id: int
    created_at: float


@dataclass(frozen=True)
class Delivery:
    """One planned message: a digest of records ``first_record..last_record`` for one target.

    Attributes:
        key: the idempotency key (``mail:<subscription>:<first>-<last>``, ``webhook:...``).
        payload: what is sent, made at planning (a redelivery sends the same bytes).
    """

    key: str
    kind: Literal["mail", "webhook"]
    target: int
    first_record: int
    last_record: int
    payload: str
    status: Status = "pending"
    attempts: int = 0
    next_at: float = 0.0
    last_error: str | None = None
    created_at: float = 0.0
    sent_at: float | None = None

    @property
    def content(self) -> dict[str, Any]:
        """The payload as JSON."""
        return json.loads(self.payload)


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        row[0], row[1], row[2], _reach(row[4], row[3], row[5:12]), bool(row[12]), row[13], row[14]
    )


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(row[0], row[1], row[2], row[3], _reach(row[5], row[4], row[6:13]), row[13], row[14])


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(*row)


class NotifyTables(ABC):
    """The delivery tables of a store (mixed into Store; the SQL is this class's)."""

    @abstractmethod
    def _notify_tx(self, work: Callable[[Run], T]) -> T:
        """``work(run)`` in one transaction on the primary (``run(sql, args) -> rows``)."""

    def _one(self, statement: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self._notify_tx(lambda run: run(statement, args))

    # -- subscriptions ----------------------------------------------------------------------

    def add_subscription(self, email: str, lang: str, reach: Reach, confirm_hash: str, now: float) -> int:
        """Keep an unconfirmed subscription; its id."""
        rows = self._one(
            f"INSERT INTO {{s}}.tg_subscriptions (email, lang, area, layers, {_AREA}, confirm_hash,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (email, lang, reach.area, ",".join(reach.layers), *reach.values(), confirm_hash, now),
        )
        return rows[0][0]

    def subscription(self, subscription_id: int) -> Subscription | None:
        """One subscription by id."""
        rows = self._one(
            f"SELECT {_SUBSCRIPTION} FROM {{s}}.tg_subscriptions WHERE id = ?", (subscription_id,)
        )
        return _subscription(rows[0]) if rows else None

    def subscription_by_confirm(self, confirm_hash: str) -> Subscription | None:
        """The subscription a confirmation token (by its hash) belongs to."""
        rows = self._one(
            f"SELECT {_SUBSCRIPTION} FROM {{s}}.tg_subscriptions WHERE confirm_hash = ?", (confirm_hash,)
        )
        return _subscription(rows[0]) if rows else None

    def confirm_subscription(self, subscription_id: int) -> None:
        """Confirmed: changes recorded from now on are delivered."""
        self._one(
            f"UPDATE {{s}}.tg_subscriptions SET confirmed = 1, after_id = {_MAX_RECORD}"
            " WHERE id = ? AND confirmed = 0",
            (subscription_id,),
        )

    def delete_subscription(self, subscription_id: int) -> bool:
        """Forget a subscription and its unsent mails; whether it was there."""
        return self._delete_target("mail", "tg_subscriptions", subscription_id)

    def _delete_target(self, kind: str, table: str, target: int) -> bool:
        """Delete a subscriber (``table``) and its deliveries of ``kind`` not sent yet."""

        def work(run: Run) -> Any:
            run(
                "DELETE FROM {s}.tg_deliveries WHERE kind = ? AND target = ? AND status <> 'sent'",
                (kind, target),
            )
            return bool(run(f"DELETE FROM {{s}}.{table} WHERE id = ? RETURNING id", (target,)))

        return self._notify_tx(work)

    def prune_subscriptions(self, unconfirmed_before: float) -> int:
        """Delete subscriptions never confirmed since ``unconfirmed_before``."""
        rows = self._one(
            "DELETE FROM {s}.tg_subscriptions WHERE confirmed = 0 AND created_at < ? RETURNING id",
            (unconfirmed_before,),
        )
        return len(rows)

    # -- webhooks ---------------------------------------------------------------------------

    def add_webhook(self, url: str, secret: str, audience: str, reach: Reach, now: float) -> int:
        """Register a webhook; it receives changes recorded from now on."""
        rows = self._one(
            f"INSERT INTO {{s}}.tg_webhooks (url, secret, audience, area, layers, {_AREA}, after_id,"
            f" created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_MAX_RECORD}, ?) RETURNING id",
            (url, secret, audience, reach.area, ",".join(reach.layers), *reach.values(), now),
        )
        return rows[0][0]

    def webhooks(self) -> list[Webhook]:
        """Every webhook, by id."""
        return [_webhook(r) for r in self._one(f"SELECT {_WEBHOOK} FROM {{s}}.tg_webhooks ORDER BY id")]

    def remove_webhook(self, webhook_id: int) -> bool:
        """Remove a webhook and its unsent deliveries; whether it was there."""
        return self._delete_target("webhook", "tg_webhooks", webhook_id)

    # -- planning and delivering ------------------------------------------------------------

    def notify_targets(self) -> tuple[list[Subscription], list[Webhook]]:
        """The confirmed subscriptions and the webhooks, in one read."""

        def work(run: Run) -> Any:
            subs = run(
                f"SELECT {_SUBSCRIPTION} FROM {{s}}.tg_subscriptions WHERE confirmed = 1 ORDER BY id", ()
            )
            hooks = run(f"SELECT {_WEBHOOK} FROM {{s}}.tg_webhooks ORDER BY id", ())
            return [_subscription(r) for r in subs], [_webhook(r) for r in hooks]

        return self._notify_tx(work)

    def notify_cursor(self) -> int:
        """The id of the last change record the worker planned deliveries for."""
        rows = self._one("SELECT value FROM {s}.tg_notify_state WHERE name = 'cursor'")
        return int(rows[0][0]) if rows else 0

    def plan_deliveries(
        self, cursor: int, new_cursor: int, deliveries: Sequence[Delivery], now: float
    ) -> bool:
        """Keep ``deliveries`` and move the cursor from ``cursor`` to ``new_cursor``, in one
        transaction; False (nothing written) when another worker moved it first."""

        def work(run: Run) -> Any:
            moved = run(
                "UPDATE {s}.tg_notify_state SET value = ? WHERE name = 'cursor' AND value = ? RETURNING name",
                (str(new_cursor), str(cursor)),
            )
            if not moved:
                return False
            for d in deliveries:
                run(
                    "INSERT INTO {s}.tg_deliveries (key, kind, target, first_record, last_record,"
                    " payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (d.key, d.kind, d.target, d.first_record, d.last_record, d.payload, now, now),
                )
            return True

        return self._notify_tx(work)

    def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first."""
        rows = self._one(
            f"SELECT {_DELIVERY} FROM {{s}}.tg_deliveries WHERE status = 'pending' AND next_at <= ?"
            " ORDER BY next_at, key LIMIT ?",
            (now, limit),
        )
        return [_delivery(r) for r in rows]

    def deliveries(self, status: Status | None = None, limit: int = 1000) -> list[Delivery]:
        """Deliveries (of one status), newest first."""
        where, args = ("WHERE status = ?", (status, limit)) if status else ("", (limit,))
        rows = self._one(
            f"SELECT {_DELIVERY} FROM {{s}}.tg_deliveries {where} ORDER BY created_at DESC, key LIMIT ?", args
        )
        return [_delivery(r) for r in rows]

    def delivery_done(
        self, key: str, status: Status, attempts: int, next_at: float, error: str | None, now: float
    ) -> None:
        """Record an attempt: sent, pending again at ``next_at``, or dead."""
        self._one(
            "UPDATE {s}.tg_deliveries SET status = ?, attempts = ?, next_at = ?, last_error = ?,"
            " sent_at = ? WHERE key = ?",
            (status, attempts, next_at, error, now if status == "sent" else None, key),
        )

    def drop_delivery(self, key: str) -> None:
        """Forget a delivery whose target is gone (unsubscribed, removed)."""
        self._one("DELETE FROM {s}.tg_deliveries WHERE key = ? AND status <> 'sent'", (key,))

    def redeliver(self, key: str | None, now: float) -> int:
        """Make a dead delivery (None: every dead one) pending again with fresh attempts."""
        where, args = ("AND key = ?", (now, key)) if key else ("", (now,))
        rows = self._one(
            "UPDATE {s}.tg_deliveries SET status = 'pending', attempts = 0, next_at = ?, last_error = NULL"
            f" WHERE status = 'dead' {where} RETURNING key",
            args,
        )
        return len(rows)

    def prune_deliveries(self, sent_before: float) -> int:
        """Delete deliveries sent before ``sent_before``."""
        return len(
            self._one(
                "DELETE FROM {s}.tg_deliveries WHERE status = 'sent' AND sent_at < ? RETURNING key",
                (sent_before,),
            )
        )

    # -- the one worker ---------------------------------------------------------------------

    def take_lease(self, holder: str, now: float, ttl_s: float) -> bool:
        """Become (or stay) the one delivery worker until ``now + ttl_s``, unless another holds
        an unexpired lease: a lease row, so it works the same on both stores and across hosts."""

        def work(run: Run) -> Any:
            run(
                "INSERT INTO {s}.tg_notify_state (name, value, expires_at) VALUES ('leader', '', 0)"
                " ON CONFLICT (name) DO NOTHING",
                (),
            )
            taken = run(
                "UPDATE {s}.tg_notify_state SET value = ?, expires_at = ?"
                " WHERE name = 'leader' AND (value = ? OR expires_at < ?) RETURNING name",
                (holder, now + ttl_s, holder, now),
            )
            return bool(taken)

        return self._notify_tx(work)

    def release_lease(self, holder: str) -> None:
        """Give the lease up (a clean stop): another worker may take over at once."""
        self._one(
            "UPDATE {s}.tg_notify_state SET expires_at = 0 WHERE name = 'leader' AND value = ?", (holder,)
        )

    def notify_secret(self) -> str:
        """The store's random secret that unsubscribe links are signed with (made once)."""

        def work(run: Run) -> Any:
            rows = run("SELECT value FROM {s}.tg_notify_state WHERE name = 'secret'", ())
            if rows:
                return rows[0][0]
            value = secrets.token_hex(32)
            run(
                "INSERT INTO {s}.tg_notify_state (name, value) VALUES ('secret', ?)"
                " ON CONFLICT (name) DO NOTHING",
                (value,),
            )
            return run("SELECT value FROM {s}.tg_notify_state WHERE name = 'secret'", ())[0][0]

        return self._notify_tx(work)
