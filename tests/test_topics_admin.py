"""Staff manage topics: the list with readers per topic, create, edit, refusals by field,
the audit log, and the `flask topics` commands."""

import re

from campaign_helpers import add_subscribers
from newsletter_helpers import manage_path
from staff_helpers import STAFF_EMAIL, STAFF_PASSWORD, csrf_token, log_in

from weprode.db import get_db, utcnow
from weprode.newsletter import subscriptions, topics
from weprode.staff import accounts

VALUES = {
    "slug": "events",
    "name_en": "Events and webinars",
    "name_fr": "Événements et webinaires",
    "description_en": "Invitations to our events.",
    "description_fr": "Les invitations à nos événements.",
    "public": "y",
}


def test_staff_list_create_and_edit_topics_with_readers_per_topic(app, db, staff_client):
    add_subscribers(app, db, [("ann@example.org", "Ann", "en"), ("bob@example.org", "Bob", "fr")])
    nav = staff_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/topics"' in nav
    token = csrf_token(staff_client, "/admin/topics/new")
    response = staff_client.post("/admin/topics/new", data={**VALUES, "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/admin/topics")
    events = topics.by_slug(db, "events")
    assert events["public"] == 1 and events["name_fr"] == "Événements et webinaires"
    with app.app_context():
        subscriptions.join(db, 1, [events["id"]], utcnow())  # Ann only
    html = staff_client.get("/admin/topics").get_data(as_text=True)
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "Newsletter" in rows[0] and "main topic" in rows[0] and ">2</td>" in rows[0]
    assert "Events and webinars" in rows[1] and "Public" in rows[1] and ">1</td>" in rows[1]
    assert "Topic saved." in html
    page = f"/admin/topics/{events['id']}"
    assert 'value="Événements et webinaires"' in staff_client.get(page).get_data(as_text=True)
    edited = {**VALUES, "name_en": "Events", "csrf_token": token}
    del edited["public"]  # an unticked box is not posted
    assert staff_client.post(page, data=edited).status_code == 302
    events = topics.get(db, events["id"])
    assert events["name_en"] == "Events" and events["public"] == 0
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["topic_created", "topic_changed"]


def test_bad_values_answer_400_with_each_error_by_its_field_and_save_nothing(app, db, staff_client):
    token = csrf_token(staff_client, "/admin/topics/new")
    bad = {**VALUES, "slug": "Newsletter!", "name_fr": "  ", "csrf_token": token}
    response = staff_client.post("/admin/topics/new", data=bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="slug-error"' in html and "lower-case letters" in html
    assert 'id="name_fr-error"' in html and "Name in French is required." in html
    assert 'id="name_en-error"' not in html
    assert 'value="Events and webinars"' in html  # what was typed stays
    assert [t["slug"] for t in topics.all_topics(db)] == ["newsletter"]
    # The only public topic cannot become internal: the error sits by the box.
    main = {k: v for k, v in {**topics.get(db, 1), "csrf_token": token}.items() if k in bad}
    main.pop("public")
    refused = staff_client.post("/admin/topics/1", data=main)
    assert refused.status_code == 400 and 'id="public-error"' in refused.get_data(as_text=True)
    assert topics.get(db, 1)["public"] == 1
    assert staff_client.post("/admin/topics/1", data=main | {"csrf_token": ""}).status_code == 400
    assert staff_client.get("/admin/topics/99").status_code == 404


def test_the_topic_pages_need_a_signed_in_staff_member(client):
    assert client.get("/admin/topics").status_code == 302
    assert client.post("/admin/topics/new", data=VALUES).status_code == 400  # no CSRF token


def test_the_topic_pages_in_french(make_app):
    app = make_app(STAFF_LANGUAGE="fr")
    with app.app_context():
        accounts.create(get_db(), STAFF_EMAIL, STAFF_PASSWORD, utcnow())
    client = app.test_client()
    assert log_in(client).status_code == 302
    html = client.get("/admin/topics").get_data(as_text=True)
    assert "Thèmes" in html and "Lecteurs actuels" in html and "thème principal" in html
    form = client.get("/admin/topics/new").get_data(as_text=True)
    assert "Nom en français" in form and "Public (proposé dans les formulaires" in form


def test_the_topics_commands_list_create_and_update(app, db, runner):
    created = runner.invoke(
        args=[
            "topics",
            "create",
            "--slug",
            "watch",
            "--name-en",
            "Regulatory watch",
            "--name-fr",
            "Veille réglementaire",
            "--internal",
        ]
    )
    assert created.exit_code == 0, created.output
    watch = topics.by_slug(db, "watch")
    assert watch["public"] == 0 and watch["name_fr"] == "Veille réglementaire"
    updated = runner.invoke(args=["topics", "update", "watch", "--public", "--name-en", "Watch"])
    assert updated.exit_code == 0, updated.output
    watch = topics.get(db, watch["id"])
    assert watch["public"] == 1 and watch["name_en"] == "Watch"
    assert watch["name_fr"] == "Veille réglementaire"
    listed = runner.invoke(args=["topics", "list"]).output.splitlines()
    assert listed[0].startswith("1  newsletter  public  0 readers  Newsletter")
    assert listed[0].endswith("main") and listed[1].startswith(f"{watch['id']}  watch  public")
    refused = runner.invoke(args=["topics", "create", "--slug", "watch", "--name-en", "X"])
    assert refused.exit_code == 1
    assert "slug: Another topic already uses this short name." in refused.output
    assert "name_fr:" in refused.output
    missing = runner.invoke(args=["topics", "update", "nothing"])
    assert missing.exit_code == 1 and "no topic called 'nothing'" in missing.output
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["topic_created", "topic_changed"]


def topic_boxes(html):
    """{form: [topic slugs in the order its checkboxes come]} for each form on the page."""
    forms = {}
    for form, slug in re.findall(r'<input type="checkbox" id="([\w-]+?)-topic-([a-z0-9-]+)"', html):
        forms.setdefault(form, []).append(slug)
    return forms


def test_staff_order_topics_and_the_public_pages_follow(app, db, staff_client):
    [subscriber_id] = add_subscribers(app, db, [("ann@example.org", "Ann", "en")])
    for slug, name in (("events", "Events"), ("watch", "Regulatory watch")):
        values = {
            **VALUES,
            "slug": slug,
            "name_en": name,
            "csrf_token": csrf_token(staff_client, "/admin/topics/new"),
        }
        assert staff_client.post("/admin/topics/new", data=values).status_code == 302
    before = topic_boxes(staff_client.get("/newsletter").text)
    # The preference page's skeleton is cached per topic list: it must follow the move.
    cached = topic_boxes(staff_client.get(manage_path(app, subscriber_id)).text)
    assert set(map(tuple, cached.values())) == {("newsletter", "events", "watch")}
    assert before and set(map(tuple, before.values())) == {("newsletter", "events", "watch")}
    listing = staff_client.get("/admin/topics").text
    assert 'aria-label="Move “Newsletter” up"' not in listing  # first: no Up button
    assert 'aria-label="Move “Regulatory watch” down"' not in listing  # last: no Down
    watch = topics.by_slug(db, "watch")["id"]
    move = f"/admin/topics/{watch}/move"
    for _ in range(2):
        token = csrf_token(staff_client, "/admin/topics")
        moved = staff_client.post(move, data={"csrf_token": token, "direction": "up"})
        assert moved.status_code == 302 and moved.location.endswith("/admin/topics")
    assert "Order saved" in staff_client.get("/admin/topics").text
    new_order = ("watch", "newsletter", "events")
    # The public signup form (and the footer's) and the preference page list them so.
    after = topic_boxes(staff_client.get("/newsletter").text)
    assert after.keys() == before.keys() and set(map(tuple, after.values())) == {new_order}
    with app.app_context():
        subscriptions.join(db, subscriber_id, [topics.by_slug(db, "events")["id"]], utcnow())
    preferences = topic_boxes(staff_client.get(manage_path(app, subscriber_id)).text)
    assert preferences and set(map(tuple, preferences.values())) == {new_order}
    rows = staff_client.get("/admin/topics").text.split("<tbody>")[1].split("<tr")[1:]
    assert "Regulatory watch" in rows[0] and "Events" in rows[2]
    # Already first: nothing moves, staff are told; a made-up direction is a 400.
    token = csrf_token(staff_client, "/admin/topics")
    staff_client.post(move, data={"csrf_token": token, "direction": "up"})
    assert "already at that end" in staff_client.get("/admin/topics").text
    assert (
        staff_client.post(move, data={"csrf_token": token, "direction": "sideways"}).status_code
        == 400
    )
    assert (
        staff_client.post(
            "/admin/topics/999/move", data={"csrf_token": token, "direction": "up"}
        ).status_code
        == 404
    )
    assert [t["slug"] for t in topics.all_topics(db)] == ["watch", "newsletter", "events"]
    moves = db.execute("SELECT count(*) FROM audit_log WHERE action = 'topic_moved'").fetchone()[0]
    assert moves == 2
