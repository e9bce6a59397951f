"""Deliveries planned from a batch of change records: which target gets which records, and the
message each gets, made once at planning (a retry or a redelivery sends the same bytes).

One round of the worker plans one delivery per target at most (a digest): an ETL run changing
500 features in someone's area is one mail listing ``notify_digest_max`` of them and "N more"
with the area's feed, never 500 mails. A webhook gets the records of the round in chunks.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import yaml

from server.feeds.entries import Entry, make_entry
from server.feeds.params import Area
from server.snapshot import Snapshot
from tsukuba_gis.store.base import ChangeRecord
from tsukuba_gis.store.notify import Delivery, Reach, Subscription, Webhook

TEXTS: dict[str, dict[str, str]] = yaml.safe_load(
    Path(__file__).with_name("texts.yaml").read_text(encoding="utf-8")
)
WEBHOOK_CHUNK = 100  # records in one webhook body at most


def text(key: str, lang: str, **values: object) -> str:
    """One of the mails' words in ``lang`` (Japanese for a language without its own)."""
    words = TEXTS[key]
    return words.get(lang, words["ja"]).format(**values)


def reaches(reach: Reach, record: ChangeRecord) -> bool:
    """Whether a record is of the layers and in the area a target follows."""
    if reach.layers and record.layer_id not in reach.layers:
        return False
    if reach.box is None:
        return True
    bounds = record.bounds
    if bounds is None:
        return False
    box = reach.box
    if bounds[2] < box[0] or bounds[0] > box[2] or bounds[3] < box[1] or bounds[1] > box[3]:
        return False
    return Area(box, reach.center, reach.radius_m).meets(bounds)


def unsubscribe_token(secret: str, subscription: Subscription) -> str:
    """``<id>.<HMAC>``: nothing to store, unforgeable without the store's secret."""
    message = f"unsubscribe:{subscription.id}:{subscription.email}:{subscription.created_at!r}"
    return f"{subscription.id}.{hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()}"


def feed_url(public_url: str, reach: Reach, lang: str) -> str:
    """The Atom feed of what a target follows."""
    query = reach.area
    if reach.layers:
        query = "&".join(filter(None, [query, urlencode({"layer": ",".join(reach.layers)})]))
    query = "&".join(filter(None, [query, f"lang={lang}"]))
    return f"{public_url}/feeds/changes.atom?{query}"


@dataclass
class Planner:
    """Makes the deliveries of a round from the snapshots and the settings it needs.

    Attributes:
        snapshots: the public and the staff snapshot (entries are made for the target's audience).
        secret: the store's secret of unsubscribe links.
    """

    snapshots: dict[str, Snapshot]
    public_url: str
    city: dict[str, str]
    secret: str
    digest_max: int
    # (audience, lang) -> record id -> its entry (None: nothing of it for that audience): each
    # record is put into words once per round, not once per subscriber.
    _made: dict[tuple[str, str], dict[int, Entry | None]] = field(default_factory=dict)

    def entry(self, record: ChangeRecord, audience: str, lang: str) -> Entry | None:
        """The entry of a record for an audience, None when it sees nothing of it."""
        made = self._made.setdefault((audience, lang), {})
        if record.id not in made:
            snapshot = self.snapshots[audience]
            layer = next((p for p in snapshot.layers if p.id == record.layer_id), None)
            made[record.id] = layer and make_entry(
                layer,
                record,
                audience,
                lang,
                self.public_url,
                snapshot.base_url,  # type: ignore[arg-type]
            )
        return made[record.id]

    def entries(self, records: Sequence[ChangeRecord], audience: str, lang: str) -> list[Entry]:
        """The entries of records for an audience (records it sees nothing of are none)."""
        return [e for e in (self.entry(r, audience, lang) for r in records) if e is not None]

    def plan(
        self,
        records: Sequence[ChangeRecord],
        subscriptions: Sequence[Subscription],
        webhooks: Sequence[Webhook],
    ) -> list[Delivery]:
        """Every delivery of one round."""
        planned = [d for s in subscriptions if (d := self.mail(records, s)) is not None]
        for hook in webhooks:
            planned += self.hook(records, hook)
        return planned

    def mail(self, records: Sequence[ChangeRecord], subscription: Subscription) -> Delivery | None:
        """The digest mail of a subscriber, None when nothing of the round is theirs."""
        mine = [r for r in records if r.id > subscription.after_id and reaches(subscription.reach, r)]
        entries = self.entries(mine, "public", subscription.lang)
        if not entries:
            return None
        lang = subscription.lang
        city = self.city.get(lang, self.city["ja"])
        feed = feed_url(self.public_url, subscription.reach, lang)
        token = unsubscribe_token(self.secret, subscription)
        unsubscribe = f"{self.public_url}/subscriptions/unsubscribe?token={token}"
        lines = [text("intro_digest", lang, city=city), ""]
        for entry in entries[: self.digest_max]:
            lines += [f"・{entry.title}", *(f"  {line}" for line in entry.lines)]
            lines += [f"  {entry.map_url}"] if entry.map_url else []
        if len(entries) > self.digest_max:
            lines += ["", text("more", lang, count=len(entries) - self.digest_max), feed]
        else:
            lines += ["", text("feed", lang), feed]
        lines += ["", "--", text("unsubscribe", lang), unsubscribe]
        payload = {
            "subject": text("subject_digest", lang, city=city, count=len(entries)),
            "text": "\n".join(lines) + "\n",
            "unsubscribe": unsubscribe,
        }
        first, last = mine[0].id, mine[-1].id
        return Delivery(
            f"mail:{subscription.id}:{first}-{last}",
            "mail",
            subscription.id,
            first,
            last,
            json.dumps(payload, ensure_ascii=False),
        )

    def hook(self, records: Sequence[ChangeRecord], webhook: Webhook) -> list[Delivery]:
        """The deliveries of a webhook: its records of the round, ``WEBHOOK_CHUNK`` a body."""
        mine = [r for r in records if r.id > webhook.after_id and reaches(webhook.reach, r)]
        by_lang = {
            lang: {e.id: e for e in self.entries(mine, webhook.audience, lang)} for lang in ("ja", "en")
        }
        shown = [r for r in mine if r.id in by_lang["ja"]]
        planned = []
        for start in range(0, len(shown), WEBHOOK_CHUNK):
            chunk = shown[start : start + WEBHOOK_CHUNK]
            key = f"webhook:{webhook.id}:{chunk[0].id}-{chunk[-1].id}"
            changes = [_change(r, by_lang["ja"][r.id], by_lang["en"][r.id]) for r in chunk]
            body = json.dumps({"id": key, "changes": changes}, ensure_ascii=False, separators=(",", ":"))
            planned.append(Delivery(key, "webhook", webhook.id, chunk[0].id, chunk[-1].id, body))
        return planned


def _change(record: ChangeRecord, ja: Entry, en: Entry) -> dict:
    """One change of a webhook body: what it is and its words in both languages."""
    return {
        "record": record.id,
        "layer": record.layer_id,
        "feature": record.feature_id,
        "kind": record.kind,
        "at": record.at,
        "title": {"ja": ja.title, "en": en.title},
        "lines": {"ja": list(ja.lines), "en": list(en.lines)},
        "map_url": ja.map_url,
        "api_url": ja.api_url,
        "point": list(record.point) if record.point else None,
        "bounds": list(record.bounds) if record.bounds else None,
    }
