"""Campaigns target a topic, narrowed by a saved segment, with a live count."""

from datetime import UTC, datetime

from campaign_helpers import BODY, new_campaign
from staff_helpers import csrf_token

from weprode.campaigns import audiences, compose, freeze, segments
from weprode.db import utcnow
from weprode.newsletter import subscribers, topics

STAFF = "staff@weprode.com"
JANUARY = datetime(2026, 1, 15, 10, tzinfo=UTC)
MARCH = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


def events_topic(app, db):
    """A second topic, "events"."""
    values = {"slug": "events", "name_en": "Events", "name_fr": "Événements", "public": "1"}
    with app.app_context():
        return topics.create(db, values, STAFF, utcnow())


def readers(app, db):
    """Five people: who is where, when they came and from where."""
    events = events_topic(app, db)
    main = topics.main_topic_id(db)
    people = {
        "ann": ("ann@example.org", "fairs", JANUARY, "fr", [main, events]),
        "ben": ("ben@example.org", "fairs", MARCH, "fr", [events]),
        "cat": ("cat@example.org", "form", MARCH, "fr", [main, events]),
        "dan": ("dan@example.org", "fairs", MARCH, "en", [events]),
        "eve": ("eve@example.org", "fairs", MARCH, "fr", [main]),
    }
    ids = {}
    with app.app_context():
        for key, (email, source, when, language, topic_ids) in people.items():
            ids[key] = subscribers.add_confirmed(
                db, email, source, when, language=language, topic_ids=topic_ids
            )[0]
    return ids, main, events


def french_fairs_in_march(app, db):
    """A segment: French speakers from the fairs who signed up in March 2026."""
    values = {
        "name": "French fairs, March",
        "language": "fr",
        "source": "staff: fairs",  # as staff additions record it
        "signed_up_from": "2026-03-01",
        "signed_up_until": "2026-03-10",  # the last day is included, up to 23:59
    }
    with app.app_context():
        return segments.create(db, values, utcnow())


def test_the_freeze_and_the_counts_take_topic_audience_and_segment(app, db):
    ids, main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    with app.app_context():
        counts = audiences.counts(db, "all", ("fr",), events, segment_id)
        assert counts["all"]["total"] == 1  # ben: ann came in January, cat from the form
        assert audiences.counts(db, "all", (), main, segment_id)["all"]["total"] == 1  # eve
        assert audiences.counts(db, "en", (), events, segment_id)["all"]["total"] == 0
        assert audiences.counts(db, "all", (), events)["all"]["total"] == 4
        campaign_id = compose.create(
            db,
            versions={"fr": compose.Version("Salon", "", BODY)},
            audience="all",
            author=STAFF,
            now=utcnow(),
            topic_id=events,
            segment_id=segment_id,
        )
        assert freeze.start(db, campaign_id, utcnow()) == 1
    frozen = [row["subscriber_id"] for row in db.query("SELECT subscriber_id FROM deliveries")]
    assert frozen == [ids["ben"]]


def test_a_segment_by_import_batch_and_confirmation_date(app, db):
    ids, main, _events = readers(app, db)
    db.execute(
        "INSERT INTO imports (id, actor, mode, source, legal_basis, file_sha256, status, "
        "started_at, total_rows, merged_duplicates, entries) "
        "VALUES (7, ?, 'confirmed', 'fairs', 'consent', 'x', 'done', ?, 2, 0, 2)",
        [STAFF, JANUARY.isoformat()],
    )
    db.execute("UPDATE subscribers SET import_id = 7 WHERE id IN (?, ?)", [ids["ann"], ids["eve"]])
    with app.app_context():
        batch = segments.create(db, {"name": "Batch 7", "import_id": "7"}, utcnow())
        january = segments.create(
            db, {"name": "Jan", "confirmed_from": "2026-01-01", "confirmed_until": "2026-01-31"},
            utcnow(),
        )  # fmt: skip
        assert audiences.counts(db, "all", (), main, batch)["all"]["total"] == 2
        assert audiences.counts(db, "all", (), main, january)["all"]["total"] == 1


def test_segment_form_refuses_bad_dates_next_to_the_field(db, staff_client):
    token = csrf_token(staff_client, "/admin/segments/new")
    response = staff_client.post(
        "/admin/segments/new",
        data={
            "csrf_token": token,
            "name": "Spring",
            "signed_up_from": "2026-02-30",
            "confirmed_from": "2026-05-01",
            "confirmed_until": "2026-04-01",
            "import_id": "99",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="signed_up_from-error"' in html and "YYYY-MM-DD" in html
    assert 'id="confirmed_until-error"' in html and "before the start date" in html
    assert 'id="import_id-error"' in html
    assert 'value="Spring"' in html  # what was typed is kept
    assert db["segments"].count == 0


def test_segment_pages_list_count_and_say_company_is_unknown(app, db, staff_client):
    readers(app, db)
    token = csrf_token(staff_client, "/admin/segments/new")
    page = staff_client.get("/admin/segments/new").get_data(as_text=True)
    assert "known only for contacts" in page and '<option value="staff: fairs">' in page
    data = {"csrf_token": token, "name": "French", "language": "fr"}
    response = staff_client.post("/admin/segments/new", data=data)
    assert response.status_code == 302
    edit = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Newsletter: 3" in edit and "Events: 3" in edit  # ann, cat, eve / ann, ben, cat
    duplicate = staff_client.post("/admin/segments/new", data=data)
    assert duplicate.status_code == 400 and "Another segment has this name" in duplicate.text
    listing = staff_client.get("/admin/segments").get_data(as_text=True)
    assert "French" in listing and "language: French" in listing


def test_live_count_endpoint(app, db, staff_client):
    _ids, main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    query = f"/admin/audience-count?topic={events}&audience=all&segment={segment_id}"
    answer = staff_client.get(query)
    assert answer.status_code == 200 and answer.json["total"] == 1
    assert "1 reader now" in answer.json["text"]
    assert staff_client.get(f"/admin/audience-count?topic={main}&audience=fr").json["total"] == 3
    unset = staff_client.get(f"/admin/audience-count?topic={main}&audience=&segment=")
    assert unset.status_code == 200 and unset.json["total"] is None
    for bad in ("topic=abc&audience=all", "topic=999&audience=all", f"topic={main}&audience=x"):
        refused = staff_client.get(f"/admin/audience-count?{bad}")
        assert refused.status_code == 400 and refused.json["error"]
    anonymous = app.test_client().get(query)  # staff only, like the whole /admin
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]


def test_composer_requires_a_topic_and_shows_counts_then_saves_topic_and_segment(
    app, db, staff_client
):
    _ids, main, events = readers(app, db)
    segment_id = french_fairs_in_march(app, db)
    editor = staff_client.get("/admin/campaigns/new").get_data(as_text=True)
    assert "Events (4 readers now)" in editor and "Newsletter (3 readers now)" in editor
    assert "js/audience-count.js" in editor and 'data-count-url="/admin/audience-count"' in editor
    data = {
        "csrf_token": csrf_token(staff_client, "/admin/campaigns/new"),
        "en-subject": "Fair",
        "en-body_markdown": BODY,
        "audience": "all",
    }
    missing = staff_client.post("/admin/campaigns/new", data=data)
    assert missing.status_code == 400 and 'id="topic-error"' in missing.text
    assert db["campaigns"].count == 0
    unknown = staff_client.post("/admin/campaigns/new", data={**data, "topic": "999"})
    assert unknown.status_code == 400 and 'id="topic-error"' in unknown.text
    saved = staff_client.post(
        "/admin/campaigns/new", data={**data, "topic": events, "segment": segment_id}
    )
    assert saved.status_code == 302
    campaign_id = int(saved.headers["Location"].rsplit("/", 1)[1])
    page = staff_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Topic: Events" in page and "French fairs, March" in page
    edit = staff_client.get(f"/admin/campaigns/{campaign_id}/edit").get_data(as_text=True)
    assert "1 reader now in this topic, audience and segment." in edit  # rendered server-side
    campaign = compose.get(db, campaign_id)
    assert (campaign["topic_id"], campaign["segment_id"]) == (events, segment_id)
    with app.app_context():
        compose.update(
            db, campaign_id, versions={"en": compose.Version("Fair", "", BODY)},
            audience="all", now=utcnow(), topic_id=main,
        )  # fmt: skip
    campaign = compose.get(db, campaign_id)
    assert (campaign["topic_id"], campaign["segment_id"]) == (main, None)


def test_cli_create_targets_a_topic_by_slug_or_says_it_took_the_main_one(app, db, runner, tmp_path):
    events = events_topic(app, db)
    body = tmp_path / "body.md"
    body.write_text(BODY, encoding="utf-8")
    options = ["--en-subject", "News", "--en-body-file", str(body), "--audience", "all"]
    chosen = runner.invoke(args=["campaigns", "create", *options, "--topic", "events"])
    assert chosen.exit_code == 0, chosen.output
    assert compose.get(db, int(chosen.stdout))["topic_id"] == events
    default = runner.invoke(args=["campaigns", "create", *options])
    assert default.exit_code == 0 and "the main topic" in default.stderr
    assert compose.get(db, int(default.stdout))["topic_id"] == topics.main_topic_id(db)
    unknown = runner.invoke(args=["campaigns", "create", *options, "--topic", "nope"])
    assert unknown.exit_code == 1 and "events" in unknown.output


def test_a_campaign_without_segment_is_unchanged(app, db):
    _ids, main, _events = readers(app, db)
    with app.app_context():
        campaign_id = new_campaign(db, topic_id=main)
        assert freeze.start(db, campaign_id, utcnow()) == 3
