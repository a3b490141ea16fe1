"""The Deliverability page's figures: per campaign and per mailbox provider, counts only.

Aggregates, never a person: what the relay accepted, deferred or refused, the bounces
and complaints that came back, the unsubscribes. No opens, no clicks (there is no
tracking to count them from, and there must not be).

Delivery counts come from the `deliveries` ledger, grouped by the provider each row
noted when the audience was frozen (no join to subscribers: a reader who changes
address later is still counted where the mail went). A campaign still sending is
counted live; one sent or cancelled (whose rows no longer change) is counted once into
`delivery_totals`. Bounces, complaints and
unsubscribes are few and arrive late: always counted live.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..campaigns.ledger import TITLE
from ..db import Database, keyset_page, parse_timestamp, write_transaction
from .providers import provider_name

# Gmail and Yahoo's sender guidelines (February 2024): keep the spam complaint rate
# under 0.3 % (Postmaster Tools), and aim for under 0.1 %.
COMPLAINT_LIMIT = 0.003
COMPLAINT_AIM = 0.001
# Neither publishes a bounce figure; 2 % of hard bounces is the common guidance, and
# effects.HARD_BOUNCE_LIMIT (5 %) pauses a campaign.
BOUNCE_LIMIT = 0.02
# Unmapped domains with fewer recipients than this in a campaign count as "other
# domains": a one-person domain names its owner, and these counts outlive erasures.
SMALL_DOMAIN = 10
OTHER_DOMAINS = ""
FINISHED = ("sent", "cancelled")
SETTLE = timedelta(minutes=15)
PAGE_SIZE = 20
DOMAIN_SQL = "lower(substr(s.email, instr(s.email, '@') + 1))"
BOUNCE_CLASSES = ("hard", "soft", "policy", "complaint")
COUNTS = ("attempted", "accepted", "deferred", *BOUNCE_CLASSES, "unsubscribed")
# The provider table's length: the biggest providers and domains, then the rest summed.
PROVIDER_ROWS = 30
# What is kept per campaign: a list of schools has thousands of domains, and summing
# every one of them over every campaign at each view costs more than it shows.
STORED_ROWS = 100


@dataclass
class Figures:
    """Counts for one campaign or one provider; rates are computed from them."""

    attempted: int = 0
    accepted: int = 0
    deferred: int = 0
    hard: int = 0
    soft: int = 0
    policy: int = 0
    complaint: int = 0
    unsubscribed: int = 0

    def add(self, **counts: int) -> None:
        """Add to several counts at once."""
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)

    def rate(self, name: str) -> float:
        """A count as a share: complaints and unsubscribes of accepted mail, the rest of
        attempts (what providers divide by)."""
        base = self.accepted if name in ("complaint", "unsubscribed") else self.attempted
        return getattr(self, name) / base if base else 0.0

    @property
    def complaint_above_limit(self) -> bool:
        return self.rate("complaint") >= COMPLAINT_LIMIT

    @property
    def complaint_above_aim(self) -> bool:
        return self.rate("complaint") >= COMPLAINT_AIM

    @property
    def bounce_above_limit(self) -> bool:
        return self.rate("hard") >= BOUNCE_LIMIT


def group_label(domain: str, recipients: int) -> str:
    """The row a domain's counts go to: its provider, itself, or "other domains"."""
    provider = provider_name(domain)
    if provider == domain and recipients < SMALL_DOMAIN:
        return OTHER_DOMAINS
    return provider


def count_deliveries(db: Database, campaign_id: int) -> dict[str, tuple[int, int, int]]:
    """Live (attempted, accepted, deferred) per provider for one campaign: the
    STORED_ROWS biggest by recipients, the rest summed in "other domains".

    Attempted: the relay was asked (it accepted, refused, or deferred and the row waits
    for its retry). Deferred: a temporary refusal made the row wait (it took more than
    one attempt, or is queued again after one), so deferred rows are attempted ones.
    """
    totals: dict[str, Counter] = {}
    # Each row's provider was noted when the audience was frozen (see freeze.start): no
    # join to subscribers, which cost about a second per view at a million rows while
    # the campaign sends. Rows frozen before providers were noted have '' and are
    # grouped by their subscriber's domain.
    for provider, recipients, attempted, accepted, deferred in db.execute(
        "SELECT CASE WHEN d.provider != '' THEN d.provider ELSE (SELECT "
        f"{DOMAIN_SQL} FROM subscribers s WHERE s.id = d.subscriber_id) END AS grouped, "
        "count(*), "
        "sum(d.status IN ('sent', 'failed') OR (d.status = 'queued' AND d.attempts > 0)), "
        "sum(d.status = 'sent'), sum(d.attempts > 1 OR (d.status = 'queued' AND d.attempts > 0)) "
        "FROM deliveries d WHERE d.campaign_id = ? GROUP BY grouped",
        [campaign_id],
    ):
        # A provider's id gives its name; an unmapped domain is its own provider id.
        label = group_label(provider or "", recipients)
        totals.setdefault(label, Counter()).update(
            rows=recipients, attempted=attempted, accepted=accepted, deferred=deferred
        )
    other = totals.pop(OTHER_DOMAINS, Counter())
    biggest = sorted(totals, key=lambda label: -totals[label]["rows"])
    for label in biggest[STORED_ROWS:]:
        other.update(totals.pop(label))
    if other:
        totals[OTHER_DOMAINS] = other
    return {
        label: (counts["attempted"], counts["accepted"], counts["deferred"])
        for label, counts in totals.items()
    }


def settled(campaign: dict, now: datetime) -> bool:
    """True when the campaign's deliveries can no longer change.

    A sent campaign has no row left in flight. A cancel skips the rows a sender holds,
    and the sender still records those it sent (ledger.mark): a few seconds, bounded
    by MAIL_TIMEOUT; after SETTLE nothing is out any more.
    """
    if campaign["status"] == "sent":
        return True
    finished = parse_timestamp(campaign.get("finished_at"))
    return finished is not None and finished <= now - SETTLE


def delivery_totals(db: Database, campaign: dict, now: datetime) -> dict[str, tuple[int, int, int]]:
    """(attempted, accepted, deferred) per provider: stored once the campaign is settled."""
    if campaign["status"] not in FINISHED:
        return count_deliveries(db, campaign["id"])
    stored = {
        provider: (attempted, accepted, deferred)
        for provider, attempted, accepted, deferred in db.execute(
            "SELECT provider, attempted, accepted, deferred FROM delivery_totals "
            "WHERE campaign_id = ?",
            [campaign["id"]],
        )
    }
    if stored:
        return stored
    counted = count_deliveries(db, campaign["id"])
    if not settled(campaign, now):
        return counted
    with write_transaction(db):
        # Another request may have stored them meanwhile: the same counts, kept once.
        db.conn.executemany(
            "INSERT OR IGNORE INTO delivery_totals "
            "(campaign_id, provider, attempted, accepted, deferred) VALUES (?, ?, ?, ?, ?)",
            [(campaign["id"], label, *counts) for label, counts in counted.items()],
        )
    return counted


def bounce_counts(db: Database, campaign_ids: list[int]) -> dict[int, Counter]:
    """People with a bounce of each class, per campaign."""
    counts: dict[int, Counter] = {campaign_id: Counter() for campaign_id in campaign_ids}
    if not campaign_ids:
        return counts
    marks = ", ".join("?" for _ in campaign_ids)
    for campaign_id, severity, people in db.execute(
        "SELECT campaign_id, severity, count(DISTINCT subscriber_id) FROM bounce_events "
        f"WHERE campaign_id IN ({marks}) GROUP BY campaign_id, severity",
        campaign_ids,
    ):
        counts[campaign_id][severity] = people
    return counts


def unsubscribe_counts(db: Database, campaign_ids: list[int]) -> Counter:
    """People who left from each campaign's mail (a complaint is counted as such)."""
    if not campaign_ids:
        return Counter()
    marks = ", ".join("?" for _ in campaign_ids)
    return Counter(
        dict(
            db.execute(
                "SELECT campaign_id, count(DISTINCT subscriber_id) FROM subscriber_events "
                f"WHERE kind IN ('churned', 'left_topic') AND campaign_id IN ({marks}) "
                "AND coalesce(source, '') != 'complaint' GROUP BY campaign_id",
                campaign_ids,
            ).fetchall()
        )
    )


def campaign_totals(db: Database, campaign: dict, now: datetime) -> tuple[int, int, int]:
    """(attempted, accepted, deferred) of one campaign: stored, or counted without the join."""
    if campaign["status"] in FINISHED:
        totals = delivery_totals(db, campaign, now).values()
        return tuple(sum(column) for column in zip(*totals, strict=True)) or (0, 0, 0)
    row = db.execute(
        "SELECT count(*) FILTER (WHERE status IN ('sent', 'failed') "
        "OR (status = 'queued' AND attempts > 0)), "
        "count(*) FILTER (WHERE status = 'sent'), "
        "count(*) FILTER (WHERE attempts > 1 OR (status = 'queued' AND attempts > 0)) "
        "FROM deliveries WHERE campaign_id = ?",
        [campaign["id"]],
    ).fetchone()
    return tuple(row)


def campaign_page(
    db: Database, now: datetime, after: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[tuple[dict, Figures]], int | None]:
    """Campaigns that were sent (or started), newest first, with their figures."""
    campaigns, last = keyset_page(
        db,
        f"SELECT id, {TITLE}, status, started_at, finished_at FROM campaigns",
        ("id",),
        limit=limit,
        after=None if after is None else (after,),
        conditions=["started_at IS NOT NULL"],
    )
    ids = [campaign["id"] for campaign in campaigns]
    bounces, unsubscribes = bounce_counts(db, ids), unsubscribe_counts(db, ids)
    rows = []
    for campaign in campaigns:
        attempted, accepted, deferred = campaign_totals(db, campaign, now)
        figures = Figures(attempted, accepted, deferred, unsubscribed=unsubscribes[campaign["id"]])
        figures.add(**{severity: bounces[campaign["id"]][severity] for severity in BOUNCE_CLASSES})
        rows.append((campaign, figures))
    return rows, last and last[0]


def provider_figures(
    db: Database, now: datetime, campaign: dict | None = None, rows: int = PROVIDER_ROWS
) -> list[tuple[str, Figures]]:
    """Figures per provider, most mail first: for one campaign (live while it sends), or
    for every finished campaign. Past `rows` rows, the smallest join "other domains"."""
    if campaign is None:
        campaigns = list(
            db.query(
                "SELECT id, status, finished_at FROM campaigns "
                "WHERE status IN ('sent', 'cancelled') AND started_at IS NOT NULL ORDER BY id"
            )
        )
        condition = (
            "e.campaign_id IN (SELECT id FROM campaigns WHERE status IN ('sent', 'cancelled'))"
        )
        params = []
    else:
        campaigns = [campaign]
        condition, params = "e.campaign_id = ?", [campaign["id"]]
    by_provider: dict[str, Figures] = {}
    for one in campaigns:
        for label, (attempted, accepted, deferred) in delivery_totals(db, one, now).items():
            by_provider.setdefault(label, Figures()).add(
                attempted=attempted, accepted=accepted, deferred=deferred
            )
    # Bounces and unsubscribes of people whose domain is a small one land in "other
    # domains" unless the campaign's delivery counts gave the domain a row of its own.
    for domain, severity, people in db.execute(
        f"SELECT {DOMAIN_SQL} AS domain, e.severity, count(DISTINCT e.subscriber_id) "
        "FROM bounce_events e JOIN subscribers s ON s.id = e.subscriber_id "
        f"WHERE {condition} GROUP BY domain, e.severity",
        params,
    ):
        by_provider.setdefault(label_for(domain, by_provider), Figures()).add(**{severity: people})
    for domain, people in db.execute(
        f"SELECT {DOMAIN_SQL} AS domain, count(DISTINCT e.subscriber_id) "
        "FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id "
        "WHERE e.kind IN ('churned', 'left_topic') AND coalesce(e.source, '') != 'complaint' "
        f"AND {condition} "
        "GROUP BY domain",
        params,
    ):
        by_provider.setdefault(label_for(domain, by_provider), Figures()).add(unsubscribed=people)
    return fold_small(by_provider, rows)


def fold_small(by_provider: dict[str, Figures], rows: int) -> list[tuple[str, Figures]]:
    """The `rows` - 1 biggest rows by attempts, then "other domains" with the rest."""
    ordered = sorted(by_provider.items(), key=lambda item: (-item[1].attempted, item[0]))
    named = [(label, f) for label, f in ordered if label != OTHER_DOMAINS]
    if len(named) < rows and OTHER_DOMAINS not in by_provider:
        return named
    kept, rest = named[: rows - 1], named[rows - 1 :]
    other = by_provider.get(OTHER_DOMAINS, Figures())
    for _label, figures in rest:
        other.add(**{name: getattr(figures, name) for name in COUNTS})
    return [*kept, (OTHER_DOMAINS, other)]


def label_for(domain: str, known: dict[str, Figures]) -> str:
    """The provider row a late event goes to: its provider's or domain's row, else "other"."""
    provider = provider_name(domain)
    return provider if provider in known or provider != domain else OTHER_DOMAINS
