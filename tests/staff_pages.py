"""Staff pages with data in every table, for the checks that visit all of them
(Chromium widths, untranslated text): one seeding, one list of pages."""

import io
from datetime import timedelta

from weprode.campaigns import compose, freeze, segments
from weprode.contact import prospects
from weprode.db import connect, utcnow
from weprode.deliverability import effects
from weprode.newsletter import importing, subscribers
from weprode.privacy.rights import records
from weprode.staff import accounts

LONG_SUBJECT = "Rentrée 2026 : nouveautés pour les établissements et leurs réseaux académiques"


def seed_staff_data(app, staff_email, staff_password):
    """A French staff account and data in every staff list: subscribers, an import, a
    sent campaign with bounces, a draft, prospects, rights requests. Returns the ids
    the detail pages need."""
    db = connect(app.config["DATABASE"])
    now = utcnow()
    ids = {}
    try:
        with app.app_context():
            accounts.create(db, staff_email, staff_password, now)
            people = [
                subscribers.add_confirmed(
                    db,
                    f"prenom.nom-de-famille-tres-long{n}@etablissement-scolaire-exemple.fr",
                    "salon",
                    now - timedelta(days=n * 9),
                    first_name="Marie-Amélie",
                    language="fr",
                )[0]
                for n in range(30)
            ]
            ids["subscriber"] = people[0]
            rows = "".join(f"import{n}@lycee-du-lac-exemple.fr,Jean,fr\n" for n in range(5))
            importing.import_subscribers(
                db,
                io.StringIO("email,first_name,language\n" + rows),
                source="Salon Educatice 2026, feuille des visiteurs",
                legal_basis="Case cochée sur le formulaire papier signé",
                mode="confirmed",
                actor=staff_email,
                now=now,
            )
            campaign_id = compose.create(
                db,
                versions={
                    "fr": compose.Version(subject=LONG_SUBJECT, body_markdown="Bonjour"),
                    "en": compose.Version(subject="Back to school 2026", body_markdown="Hi"),
                },
                audience="all",
                author=staff_email,
                now=now,
            )
            freeze.start(db, campaign_id, now)
            db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?", [now.isoformat()])
            db.execute("UPDATE campaigns SET status = 'sent', finished_at = ?", [now.isoformat()])
            ids["campaign"] = campaign_id
            for subscriber_id in people[:3]:
                effects.apply_bounce(
                    db,
                    subscribers.get(db, subscriber_id),
                    "5.1.1",
                    now,
                    mail_kind="campaign",
                    campaign_id=campaign_id,
                    source="smtp",
                    detail="550 5.1.1 Recipient address rejected: User unknown in virtual "
                    "mailbox table for etablissement-scolaire-exemple.fr",
                )
            ids["segment"] = segments.create(
                db, {"name": "Salon, francophones", "language": "fr", "source": "salon"}, now
            )
            draft = compose.create(
                db,
                versions={"fr": compose.Version(subject=LONG_SUBJECT, body_markdown="Brouillon")},
                audience="fr",
                author=staff_email,
                now=now,
                segment_id=ids["segment"],
            )
            ids["draft"] = draft
            for n in range(8):
                identity = prospects.Identity(
                    email=f"direction.pedagogique{n}@groupe-scolaire-exemple.fr",
                    first_name="Anne-Sophie",
                    last_name="de La Rochefoucauld-Montmorency",
                    company="Groupe scolaire international de Savoie-Mont-Blanc",
                )
                meeting = prospects.Interaction(
                    kind="meeting", topic="Plan de réversibilité", format="video",
                    time_slots=("lundi matin",),
                )  # fmt: skip
                ids["prospect"], _ = prospects.record_request(db, identity, meeting, now)
            for n, kind in enumerate(["erase", "access", "rectify", "object"] * 2):
                records.create(
                    db,
                    f"demande.droits{n}@etablissement-scolaire-exemple.fr",
                    kind,
                    now - timedelta(days=5 * n),
                    verified=n % 2 == 0,
                )
    finally:
        db.close()
    return ids


def staff_paths(ids):
    """Every staff page that lists something, and the detail pages with tables."""
    return [
        "/admin/",
        "/admin/subscribers",
        f"/admin/subscribers/{ids['subscriber']}",
        "/admin/subscribers/imports",
        "/admin/subscribers/import",
        "/admin/campaigns",
        f"/admin/campaigns/{ids['campaign']}",
        f"/admin/campaigns/{ids['draft']}",
        f"/admin/campaigns/{ids['draft']}/edit",
        "/admin/prospects",
        f"/admin/prospects/{ids['prospect']}",
        "/admin/requests",
        "/admin/audit",
        "/admin/deliverability",
        "/admin/deliverability/bounces",
        "/admin/account",
        "/admin/topics",
        "/admin/topics/new",
        "/admin/topics/1",
        "/admin/segments",
        f"/admin/segments/{ids['segment']}/edit",
        # The draft uses the segment: the page names it and refuses the deletion.
        f"/admin/segments/{ids['segment']}/delete",
    ]
