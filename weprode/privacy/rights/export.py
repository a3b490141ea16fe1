"""The copy of someone's data (GDPR articles 15 and 20): one JSON document per address.

It holds every row we keep about the address, internal staff notes included (they
are personal data too), and the information article 15 requires, as data: purposes,
recipients, retention, rights, where to complain. Retention comes from the
retention rules, so the copy says what the code does.
"""

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _

from ... import tokens
from ...campaigns import ledger
from ...contact import prospects
from ...db import Database, first_row, isoformat
from ...newsletter import subscribers, subscriptions
from ...urls import absolute_url
from .. import policy, retention
from . import records

FORMAT_VERSION = 1


def newsletter_part(db: Database, email: str) -> dict | None:
    """The subscriber row, topics with their dates, consent proofs, history, deliveries and
    bounces (or None)."""
    subscriber = subscribers.find_by_email(db, email)
    if subscriber is None:
        return None
    subscriber_id = subscriber["id"]
    deliveries = list(
        db.query(
            f"SELECT d.campaign_id, {ledger.DELIVERY_SUBJECT} AS campaign_subject, d.status, "
            "d.sent_at FROM deliveries d WHERE d.subscriber_id = ? ORDER BY d.id",
            [subscriber_id],
        )
    )
    return {
        "subscriber": subscriber,
        "topics": subscriptions.of_subscriber(db, subscriber_id),
        "consents": subscribers.consents(db, subscriber_id),
        "history": subscribers.history(db, subscriber_id),
        "deliveries": deliveries,
        # What came back from the mails we sent: bounces and complaints, with their codes.
        "bounce_events": list(
            db.query(
                "SELECT at, severity, status_code, mail_kind, campaign_id, source, detail "
                "FROM bounce_events WHERE subscriber_id = ? ORDER BY at, id",
                [subscriber_id],
            )
        ),
    }


def prospect_part(db: Database, email: str) -> dict | None:
    """The prospect row, their requests, staff notes and mails waiting to be sent (or None)."""
    prospect = prospects.find_by_email(db, email)
    if prospect is None:
        return None
    prospect_id = prospect["id"]
    unsent = list(
        db.query(
            "SELECT kind, created_at, recipient, subject, body_text FROM outbox "
            "WHERE prospect_id = ? ORDER BY id",
            [prospect_id],
        )
    )
    return {
        "prospect": prospect,
        "requests": prospects.interactions(db, prospect_id),
        "staff_notes": prospects.notes(db, prospect_id),
        "mails_waiting_to_be_sent": unsent,
    }


def mail_sends(db: Database, email: str) -> list[dict]:
    """Which newsletter mails (confirmations...) went to the address, and when."""
    hashes = tokens.address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    return list(
        db.query(
            "SELECT kind, sent_at FROM newsletter_mail_sends "
            f"WHERE address_hash IN ({placeholders}) ORDER BY sent_at, id",
            hashes,
        )
    )


def suppression(db: Database, email: str) -> dict | None:
    """The suppression entry (date and reason), or None: the address is not blocked."""
    hashes = tokens.address_hashes(email)
    placeholders = ", ".join("?" for _ in hashes)
    return first_row(
        db,
        "SELECT created_at, source FROM suppressions "
        f"WHERE address_hash IN ({placeholders}) LIMIT 1",
        hashes,
    )


def retention_periods() -> list[dict]:
    """The retention rules, as plain strings in the current language (as `/privacy`
    shows them, the backup period included)."""
    days = current_app.config["BACKUP_KEEP_DAYS"]
    return [
        {
            "data": str(rule.data),
            "kept_for": str(rule.period) % {"days": days}
            if rule.key == "backups"
            else str(rule.period),
            "counted_from": str(rule.clock),
            "then": str(rule.action),
        }
        for rule in retention.RULES
    ]


def article_15_information() -> dict:
    """What article 15 says a person must be told, with the facts of FACTS.md."""
    return {
        "controller": {
            "name": "WEPRODE S.A.S.",
            "registration": "RCS Chambéry 908 323 652",
            "address": "19 Boulevard de la mer Caspienne, Savoie Technolac – BP 219, "
            "73370 Le Bourget-du-Lac, France",
            "privacy_contact": "privacy@weprode.com",
        },
        "categories_of_data": [
            _(
                "Identification and professional status: last name, first name, job title, "
                "organisation."
            ),
            _("Contact details: professional e-mail address and telephone number."),
            _("Website usage data: IP address, logs, browser, pages visited."),
        ],
        "purposes": [
            {"purpose": str(item.purpose), "legal_basis": str(item.legal_basis)}
            for item in policy.PURPOSES
        ],
        "sources": [
            _("Your browsing on the website (usage data)."),
            _("The website's forms: contact, meeting request, newsletter signup."),
            _("Prospecting and contract management outside the website."),
        ],
        "recipients": [
            _("Weprode's own staff."),
            _(
                "Processors acting on Weprode's instructions: today only the host, OVH "
                "(2 rue Kellermann, 59100 Roubaix, France)."
            ),
            _("Public authorities, when the law requires it."),
        ],
        "transfers_outside_the_eu": _(
            "Weprode passes your data to no recipient outside the European Union: its only "
            "processor is its host, OVH, a French company. Weprode prefers storage inside "
            "the European Union."
        ),
        "automated_decision_making": str(policy.AUTOMATED_DECISIONS),
        "retention": retention_periods(),
        "your_rights": [
            _("Access and a copy of your data."),
            _("Rectification of inaccurate or incomplete data."),
            _("Erasure, except where a legal duty requires us to keep the data."),
            _("Objection, including to any commercial prospecting, at any time."),
            _("Portability: this document is in a structured, machine-readable format."),
            _(
                "Restriction: having us keep your data without otherwise using it, for "
                "example while we check its accuracy or an objection you made."
            ),
            _("Withdrawing your consent at any time, where we rely on it (the newsletter)."),
        ],
        "withdrawing_consent": str(policy.WITHDRAW_CONSENT),
        "instructions_after_death": str(policy.POST_MORTEM),
        "policy_last_updated": policy.LAST_UPDATED.isoformat(),
        "privacy_policy": absolute_url("site.privacy"),
        "copies": _(
            "The first copy is free. From the second copy, Weprode may charge the cost of "
            "producing it. Manifestly abusive or repetitive requests may be refused."
        ),
        "how_to_exercise_your_rights": {
            "online": absolute_url("rights.request"),
            "email": "privacy@weprode.com",
            "post": "WEPRODE, 19 Boulevard de la mer Caspienne, Savoie Technolac – BP 219, "
            "73370 Le Bourget-du-Lac, France",
        },
        "complaints": {
            "authority": "CNIL – Service des plaintes",
            "address": "3 Place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France",
            "phone": "+33 (0)1 53 73 22 22",
        },
    }


def document(db: Database, email: str, now: datetime, copy_number: int | None) -> dict:
    """Everything we hold about `email`, plus the article 15 information."""
    return {
        "format_version": FORMAT_VERSION,
        "title": _("Personal data held by Weprode about an e-mail address"),
        "email": email,
        "generated_at": isoformat(now),
        "copy_number": copy_number,
        "newsletter": newsletter_part(db, email),
        "newsletter_mails_sent": mail_sends(db, email),
        "prospect": prospect_part(db, email),
        "suppression": suppression(db, email),
        "rights_requests": records.for_email(db, email),
        "about_this_processing": article_15_information(),
    }
