"""Staff import a file into a topic they choose: the web form and `flask subscribers import`."""

import io

from newsletter_helpers import link_path, text_part
from staff_helpers import csrf_token

from weprode.db import utcnow
from weprode.newsletter import subscribers, subscriptions, topics

SOURCE = "Partners' day 2026"
LEGAL_BASIS = "signed consent forms"
STAFF = "staff@weprode.com"


def partners_topic(app, db):
    """An internal topic (not offered on the signup forms)."""
    values = {"slug": "partners", "name_en": "Partners", "name_fr": "Partenaires"}
    with app.app_context():
        return topics.create(db, values, STAFF, utcnow())


def receives(db, email):
    """The slugs of the topics the person receives now, sorted."""
    subscriber = subscribers.find_by_email(db, email)
    ids = subscriptions.active_topic_ids(db, subscriber["id"])
    return sorted(topics.get(db, topic_id)["slug"] for topic_id in ids)


def upload(client, text, topic, mode="confirmed"):
    """Post the staff import form."""
    token = csrf_token(client, "/admin/subscribers/import")
    data = {
        "file": (io.BytesIO(text.encode()), "list.csv"),
        "source": SOURCE,
        "legal_basis": LEGAL_BASIS,
        "mode": mode,
        "topic": str(topic),
        "csrf_token": token,
    }
    return client.post("/admin/subscribers/import", data=data, content_type="multipart/form-data")


def test_the_form_imports_into_the_chosen_topic_and_keeps_everyones_other_topics(
    app, db, staff_client
):
    partners = partners_topic(app, db)
    main = topics.main_topic_id(db)
    with app.app_context():
        subscribers.add_confirmed(db, "ann@example.org", "form", utcnow(), first_name="Ann")
    form = staff_client.get("/admin/subscribers/import").text
    assert f'<option selected value="{main}">Newsletter</option>' in form  # the default
    assert f'<option value="{partners}">Partners (internal)</option>' in form
    text = "email,first_name,language\nann@example.org,Annie,fr\nnina@example.org,Nina,fr\n"
    response = upload(staff_client, text, partners)
    assert response.status_code == 200, response.text
    assert "2 rows: 2 added, 0 duplicates merged, 0 already subscribed" in response.text
    # Ann joins Partners and keeps the Newsletter, her name and her language.
    assert receives(db, "ann@example.org") == ["newsletter", "partners"]
    ann = subscribers.find_by_email(db, "ann@example.org")
    assert (ann["first_name"], ann["language"]) == ("Ann", "en")
    # Nina is new: she receives Partners only.
    assert receives(db, "nina@example.org") == ["partners"]
    for email in ("ann@example.org", "nina@example.org"):
        subscriber = subscribers.find_by_email(db, email)
        proofs = [
            c for c in subscribers.consents(db, subscriber["id"]) if c["topic_id"] == partners
        ]
        [proof] = proofs
        assert (proof["method"], proof["source"], proof["legal_basis"]) == (
            "import", SOURCE, LEGAL_BASIS
        )  # fmt: skip
    [record] = db.query("SELECT topic_id FROM imports")
    assert record["topic_id"] == partners
    listing = staff_client.get("/admin/subscribers/imports").text
    assert "<td>Partners' day 2026</td>\n      <td>Partners</td>" in listing.replace("&#39;", "'")
    # The same file again: both already receive Partners, nothing changes.
    again = upload(staff_client, text, partners)
    assert "2 rows: 0 added, 0 duplicates merged, 2 already subscribed" in again.text


def test_someone_who_left_the_topic_is_refused_and_an_unknown_topic_is_a_400(app, db, staff_client):
    partners = partners_topic(app, db)
    with app.app_context():
        bob, _ = subscribers.add_confirmed(
            db, "bob@example.org", "form", utcnow(), topic_ids=[topics.main_topic_id(db), partners]
        )
        subscriptions.leave(db, bob, partners, utcnow(), "preferences")
    db.conn.commit()
    response = upload(staff_client, "email\nbob@example.org\n", partners)
    assert response.status_code == 200
    assert "1 address refused because it unsubscribed or was erased" in response.text
    assert receives(db, "bob@example.org") == ["newsletter"]
    unknown = upload(staff_client, "email\nzoe@example.org\n", 999)
    assert unknown.status_code == 400 and "Not a valid choice" in unknown.text
    assert subscribers.find_by_email(db, "zoe@example.org") is None


def test_double_opt_in_into_a_topic_names_it_and_confirming_keeps_the_others(
    app, db, client, staff_client, mailbox
):
    partners = partners_topic(app, db)
    with app.app_context():
        subscribers.add_confirmed(db, "ann@example.org", "form", utcnow(), first_name="Ann")
    text = "email,first_name\nann@example.org,Annie\nnina@example.org,Nina\n"
    response = upload(staff_client, text, partners, mode="double-opt-in")
    assert response.status_code == 200, response.text
    # Ann still receives the Newsletter, and only that, until she confirms.
    assert receives(db, "ann@example.org") == ["newsletter"]
    assert subscribers.find_by_email(db, "ann@example.org")["status"] == "active"
    mails = {message["To"]: message for message in mailbox.wait_for(2)}
    assert "Partners" in text_part(mails["ann@example.org"])
    assert (
        client.post(link_path(mails["ann@example.org"], "/newsletter/confirm/")).status_code == 200
    )
    assert receives(db, "ann@example.org") == ["newsletter", "partners"]
    ann = subscribers.find_by_email(db, "ann@example.org")
    assert ann["first_name"] == "Annie"  # the file's name, applied by her confirmation
    assert (
        client.post(link_path(mails["nina@example.org"], "/newsletter/confirm/")).status_code == 200
    )
    assert receives(db, "nina@example.org") == ["partners"]


def test_the_cli_imports_into_a_topic_by_its_short_name(app, db, runner, tmp_path):
    partners = partners_topic(app, db)
    with app.app_context():
        subscribers.add_confirmed(db, "ann@example.org", "form", utcnow())
    path = tmp_path / "list.csv"
    path.write_text("email\nann@example.org\nnina@example.org\n", encoding="utf-8")
    options = ["subscribers", "import", str(path), "--source", SOURCE]
    options += ["--legal-basis", LEGAL_BASIS, "--confirmed"]
    unknown = runner.invoke(args=[*options, "--topic", "nope"])
    assert unknown.exit_code != 0
    assert "No topic 'nope'; topics: newsletter, partners." in unknown.output
    assert subscribers.find_by_email(db, "nina@example.org") is None
    result = runner.invoke(args=[*options, "--topic", "partners"])
    assert result.exit_code == 0, result.output
    assert "added as active subscribers: 2" in result.output
    assert "the main topic" not in result.output
    assert receives(db, "ann@example.org") == ["newsletter", "partners"]
    assert receives(db, "nina@example.org") == ["partners"]
    [record] = db.query("SELECT topic_id FROM imports")
    assert record["topic_id"] == partners
    assert "-> partners  (Partners' day 2026)" in runner.invoke(args=["import", "list"]).output
    # Without --topic, the main topic, and the output says so.
    path.write_text("email\nzoe@example.org\n", encoding="utf-8")
    default = runner.invoke(args=options)
    assert default.exit_code == 0, default.output
    assert "topic: newsletter (the main topic; choose another with --topic)" in default.output
    assert receives(db, "zoe@example.org") == ["newsletter"]


def test_a_form_without_the_topic_field_imports_into_the_main_topic(app, db, staff_client):
    partners_topic(app, db)
    token = csrf_token(staff_client, "/admin/subscribers/import")
    # A page opened before topics could be chosen posts no `topic` at all.
    data = {
        "file": (io.BytesIO(b"email\nold.page@example.org\n"), "list.csv"),
        "source": SOURCE,
        "legal_basis": LEGAL_BASIS,
        "mode": "confirmed",
        "csrf_token": token,
    }
    response = staff_client.post(
        "/admin/subscribers/import", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.text
    assert receives(db, "old.page@example.org") == ["newsletter"]
