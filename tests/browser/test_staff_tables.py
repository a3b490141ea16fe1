"""Every staff page with data in its tables, in Chromium at 375 px and 1280 px, for a
French staff member: at 1280 px no table is cut off or scrolls; at 375 px the page never
scrolls sideways, a table wider than the screen scrolls inside its own box, said by a
visible hint."""

import io
from datetime import timedelta

import pytest
from browser_helpers import staff_page_at

from weprode.campaigns import compose, ledger
from weprode.contact import prospects
from weprode.db import connect, utcnow
from weprode.deliverability import effects
from weprode.newsletter import importing, subscribers
from weprode.privacy.rights import records
from weprode.staff import accounts

STAFF_EMAIL = "tableaux@weprode.com"
STAFF_PASSWORD = "Glacier-Lake-Savoie-42"
LONG_SUBJECT = "Rentrée 2026 : nouveautés pour les établissements et leurs réseaux académiques"
WIDTHS = [375, 1280]

MEASURE_JS = """() => {
    const tables = [...document.querySelectorAll("main table, .admin-page table")];
    const wraps = tables.map(table => {
        const wrap = table.closest(".table-wrap");
        if (!wrap) return {wrapped: false, caption: table.caption && table.caption.textContent};
        const box = wrap.getBoundingClientRect();
        return {
            wrapped: true,
            overflowX: getComputedStyle(wrap).overflowX,
            scrolls: wrap.scrollWidth > wrap.clientWidth + 1,
            tableWider: table.getBoundingClientRect().width > box.width + 1,
            right: box.right,
            rows: table.tBodies[0] ? table.tBodies[0].rows.length : 0,
        };
    });
    const hints = [...document.querySelectorAll(".table-hint")];
    return {
        wraps,
        hintsShown: hints.filter(hint => hint.offsetParent !== null).length,
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        lang: document.documentElement.lang,
    };
}"""


@pytest.fixture(scope="module")
def full_server(live_server):
    """A French staff account and data in every staff list: subscribers, an import, a
    sent campaign with bounces, prospects, rights requests, parked contact mail."""
    app = live_server.app
    app.config["STAFF_LANGUAGE"] = "fr"  # the shipped default; the tests' base config says en
    db = connect(app.config["DATABASE"])
    now = utcnow()
    ids = {}
    try:
        with app.app_context():
            accounts.create(db, STAFF_EMAIL, STAFF_PASSWORD, now)
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
                actor=STAFF_EMAIL,
                now=now,
            )
            campaign_id = compose.create(
                db,
                versions={
                    "fr": compose.Version(subject=LONG_SUBJECT, body_markdown="Bonjour"),
                    "en": compose.Version(subject="Back to school 2026", body_markdown="Hi"),
                },
                audience="all",
                author=STAFF_EMAIL,
                now=now,
            )
            ledger.start(db, campaign_id, now)
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
            draft = compose.create(
                db,
                versions={"fr": compose.Version(subject=LONG_SUBJECT, body_markdown="Brouillon")},
                audience="fr",
                author=STAFF_EMAIL,
                now=now,
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
    live_server.ids = ids
    return live_server


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
    ]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def signed_in(request, context, full_server):
    """A French staff member's page at the width under test."""
    page = staff_page_at(
        context, full_server.url, STAFF_EMAIL, STAFF_PASSWORD, request.param, "Se connecter"
    )
    yield page, request.param, full_server
    page.close()


def test_no_staff_page_is_cut_off_or_pushed_sideways(signed_in):
    page, width, server = signed_in
    problems, tables_with_rows, scrolling = [], 0, 0
    for path in staff_paths(server.ids):
        response = page.goto(server.url + path)
        assert response.status == 200, path
        found = page.evaluate(MEASURE_JS)
        assert found["lang"] == "fr", path
        if found["scrollWidth"] > found["innerWidth"]:
            problems.append(f"{path}: the page is {found['scrollWidth']} px wide")
        for wrap in found["wraps"]:
            if not wrap["wrapped"]:
                problems.append(f"{path}: a table outside a .table-wrap ({wrap['caption']})")
                continue
            tables_with_rows += wrap["rows"] > 0
            scrolling += wrap["scrolls"]
            if wrap["right"] > width:
                problems.append(f"{path}: a table box ends at {wrap['right']} px")
            if wrap["tableWider"] and wrap["overflowX"] not in ("auto", "scroll"):
                problems.append(f"{path}: a wide table in a box that does not scroll")
            if width == 1280 and wrap["scrolls"]:
                problems.append(f"{path}: a table is cut off at 1280 px")
        if width == 375 and any(w.get("scrolls") for w in found["wraps"]):
            if not found["hintsShown"]:
                problems.append(f"{path}: a table scrolls without the visible hint")
        if width == 1280 and found["hintsShown"]:
            problems.append(f"{path}: the scrolling hint shows on a wide screen")
    assert problems == []
    # The check measured real tables: with rows, and at 375 px some too wide for the screen.
    assert tables_with_rows >= 10
    assert scrolling > 0 if width == 375 else scrolling == 0
