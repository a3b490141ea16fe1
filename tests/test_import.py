"""Importing subscribers from CSV: checks, all-or-nothing writes, double opt-in, the CLI."""

import io
import json
import random
import string
from datetime import timedelta

import pytest
from newsletter_helpers import link_path, text_part

from weprode.db import connect, utcnow
from weprode.newsletter import importing, optout, signup, subscribers

SOURCE = "Trade fair 2026 list"
LEGAL_BASIS = "consent collected at trade fair 2026"


@pytest.fixture
def run_import(app, db):
    """Import CSV text into the test database; returns the report."""

    def run(text, mode="confirmed", now=None, **options):
        with app.app_context():
            return importing.import_subscribers(
                db,
                io.StringIO(text),
                source=SOURCE,
                legal_basis=LEGAL_BASIS,
                mode=mode,
                actor="tester",
                now=now or utcnow(),
                **options,
            )

    return run


def events(db, email):
    subscriber = subscribers.find_by_email(db, email)
    return [event["kind"] for event in subscribers.history(db, subscriber["id"])]


def test_confirmed_import_adds_active_subscribers_with_consent_proof(run_import, db):
    calls = []
    report = run_import(
        "email,first_name,language\nAda@Example.org,Ada,fr\nbob@example.org,,\n",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert report.imported and report.errors == []
    assert (report.total_rows, report.added, report.already_subscribed) == (2, 2, 0)
    ada = subscribers.find_by_email(db, "ada@example.org")
    assert (ada["status"], ada["first_name"], ada["language"]) == ("active", "Ada", "fr")
    assert ada["confirmed_at"] and ada["source"] == f"import: {SOURCE}"
    bob = subscribers.find_by_email(db, "bob@example.org")
    assert (bob["first_name"], bob["language"]) == (None, "en")
    [consent] = subscribers.consents(db, ada["id"])
    assert consent["method"] == "import"
    assert consent["source"] == SOURCE and consent["legal_basis"] == LEGAL_BASIS
    assert consent["submitted_at"] == consent["confirmed_at"] == ada["confirmed_at"]
    assert events(db, "bob@example.org") == ["imported"]
    # Two passes over the two rows (check, write): the bar only moves forward.
    assert calls[-1] == (4, 4) and {total for _, total in calls} == {4}
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_any_invalid_row_blocks_the_whole_import_with_line_numbers(run_import, db):
    text = (
        "email,first_name,language\n"
        "good@example.org,Good,en\n"
        "not-an-address,,\n"
        "\n"  # blank lines are skipped but still counted
        "lang@example.org,,de\n"
        f"long@example.org,{'x' * 101},\n"
        'multi@example.org,"two\nlines",en\n'
        "extra@example.org,A,en,surplus\n"
        ",Nobody,en\n"
    )
    report = run_import(text)
    assert not report.imported
    lines = [line for line, _ in report.errors]
    assert lines == [3, 5, 6, 7, 9, 10]
    reasons = dict(report.errors)
    assert reasons[3] == "“not-an-address” is not a valid e-mail address."
    assert reasons[5] == "The language must be en or fr, not “de”."
    assert "100 characters" in reasons[6] and "one line" in reasons[7]
    assert reasons[9] == "Too many columns: 4, where the first line names 3."
    assert reasons[10] == "The e-mail address is missing."
    for table in ("subscribers", "consents", "subscriber_events", "audit_log"):
        assert db[table].count == 0, table


def test_duplicates_are_merged_last_non_empty_value_wins(run_import, db):
    text = "email,first_name,language\nx@example.org,Xa,fr\nX@EXAMPLE.org,,\nx@example.org,Xb,\n"
    report = run_import(text)
    assert (report.total_rows, report.added, report.merged_duplicates) == (3, 1, 2)
    merged = subscribers.find_by_email(db, "x@example.org")
    assert (merged["first_name"], merged["language"]) == ("Xb", "fr")
    assert len(subscribers.consents(db, merged["id"])) == 1


def test_suppressed_addresses_are_refused_and_listed_while_others_import(app, run_import, db):
    with app.app_context():
        subscribers.add_confirmed(db, "left@example.org", "x", utcnow())
        optout.unsubscribe(
            db, subscribers.find_by_email(db, "left@example.org")["id"], "page", utcnow()
        )
        subscribers.suppress(db, "erased@example.org", "erasure", utcnow())
    text = "email\nnew@example.org\nLeft@example.org\nerased@example.org\n"
    report = run_import(text)
    assert report.imported and report.added == 1
    assert report.refused_suppressed == [(3, "l***@example.org"), (4, "e***@example.org")]
    assert subscribers.find_by_email(db, "left@example.org")["status"] == "churned"
    assert subscribers.find_by_email(db, "erased@example.org") is None
    assert "only their own signup" in importing.REFUSED_REASON


def test_existing_active_untouched_and_pending_becomes_active(app, run_import, db):
    now = utcnow()
    with app.app_context():
        subscribers.add_confirmed(db, "on@example.org", "x", now, first_name="Kept")
        request = signup.SignupRequest("wait@example.org", "Wanda", "fr", "2026-11-v1", None)
        signup.prepare(db, request, now)
    report = run_import("email,first_name\non@example.org,Changed\nwait@example.org,\n")
    assert (report.added, report.already_subscribed) == (1, 1)
    kept = subscribers.find_by_email(db, "on@example.org")
    assert kept["first_name"] == "Kept" and len(subscribers.consents(db, kept["id"])) == 1
    waiting = subscribers.find_by_email(db, "wait@example.org")
    # The form's name waits for the address to confirm it (issue 11, item 14): staff
    # vouch for the address, not for what someone typed next to it.
    assert (waiting["status"], waiting["first_name"], waiting["language"]) == (
        "active",
        None,
        "fr",
    )
    assert [c["method"] for c in subscribers.consents(db, waiting["id"])] == ["import"]
    assert events(db, "wait@example.org") == ["signup_requested", "imported"]


def test_double_opt_in_mails_each_new_address_and_the_link_confirms(
    app, client, run_import, db, mailbox
):
    text = "email,first_name,language\nann@example.org,Ann,en\nbea@example.org,Béa,fr\n"
    report = run_import(text, mode="double-opt-in")
    assert report.imported
    assert (report.added, report.mails_sent, report.mails_failed) == (2, 2, 0)
    assert {row["status"] for row in db["subscribers"].rows} == {"pending"}
    messages = mailbox.wait_for(2)
    assert sorted(message["To"] for message in messages) == ["ann@example.org", "bea@example.org"]
    ann = next(message for message in messages if message["To"] == "ann@example.org")
    assert "Hello Ann" in text_part(ann)
    response = client.post(link_path(ann, "/newsletter/confirm/"))
    assert response.status_code == 200
    subscriber = subscribers.find_by_email(db, "ann@example.org")
    assert subscriber["status"] == "active"
    assert [c["method"] for c in subscribers.consents(db, subscriber["id"])] == ["double-opt-in"]
    assert events(db, "ann@example.org") == ["signup_requested", "confirmed"]
    assert subscribers.find_by_email(db, "bea@example.org")["status"] == "pending"
    # Importing again at once mails nobody: the signup limits apply to imports too.
    again = run_import(text, mode="double-opt-in", now=utcnow() + timedelta(minutes=1))
    assert (again.already_subscribed, again.mails_limited, again.mails_sent) == (1, 1, 0)


def test_double_opt_in_with_relay_down_keeps_them_pending_and_retryable(make_app, mailbox):
    down = make_app(MAIL_PORT=1)  # nothing listens there
    db = connect(down.config["DATABASE"])
    with down.app_context():
        report = importing.import_subscribers(
            db,
            io.StringIO("email\na@example.org\nb@example.org\nc@example.org\nd@example.org\n"),
            source=SOURCE,
            legal_basis=LEGAL_BASIS,
            mode="double-opt-in",
            actor="tester",
            now=utcnow(),
        )
    assert report.imported
    assert (report.mails_sent, report.mails_failed) == (0, 4)
    assert db["newsletter_mail_sends"].count == 0  # failed mails do not count
    assert {row["status"] for row in db["subscribers"].rows} == {"pending"}


def test_semicolons_bom_and_header_case_are_accepted(app, run_import, db):
    text = "\ufeff Email ;LANGUAGE; First_Name\r\nsemi@example.org;fr;Sé\r\n"
    report = run_import(text)
    with app.app_context():  # the text itself works as well as a stream
        again = importing.import_subscribers(
            db, text, source="s", legal_basis="l", mode="confirmed", actor="t", now=utcnow()
        )
    assert again.already_subscribed == 1
    assert report.imported and report.added == 1
    row = subscribers.find_by_email(db, "semi@example.org")
    assert (row["language"], row["first_name"]) == ("fr", "Sé")


@pytest.mark.parametrize(
    "header, message",
    [
        ("first_name,language", "There is no “email” column."),
        ("email,phone", "Unknown column “phone”."),
        ("email,email", "appears twice"),
        ("", "must name the columns"),
    ],
)
def test_unusable_header_is_an_error_on_line_1(run_import, db, header, message):
    report = run_import(f"{header}\nsomeone@example.org\n" if header else "")
    assert not report.imported
    [(line, reason)] = report.errors
    assert line == 1 and message in reason
    assert db["subscribers"].count == 0


def test_a_header_with_too_many_columns_is_refused_unread(run_import, db):
    cells = importing.reading.MAX_HEADER_CELLS + 1
    report = run_import(",".join(["email"] * cells) + "\nsomeone@example.org\n")
    [(line, reason)] = report.errors
    assert line == 1 and f"{cells} columns, at most" in reason
    assert "appears twice" not in reason  # not read name by name
    assert db["subscribers"].count == 0


class CountedName(str):
    """A header cell that counts the comparisons made with it (and its derivatives)."""

    comparisons = 0

    def __eq__(self, other):
        CountedName.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__

    def strip(self, *chars):
        return CountedName(str.strip(self, *chars))

    def lower(self):
        return CountedName(str.lower(self))


def test_the_header_check_is_linear_in_its_cells():
    cells = importing.reading.MAX_HEADER_CELLS
    header = [CountedName(f"Column{index}") for index in range(cells - 2)] + ["email", "Email"]
    report = importing.reading.ImportReport()
    CountedName.comparisons = 0
    assert importing.reading.read_header(header, report) is None
    # A count per name compared each name with every other one: cells**2 comparisons.
    assert CountedName.comparisons <= 4 * cells
    [(_, reason)] = report.errors
    assert "Unknown column “column0”." in reason and "The column “email” appears twice." in reason


@pytest.mark.parametrize("name", ["source", "legal_basis"])
@pytest.mark.parametrize("value", ["", "  ", "two\nlines", "x" * 501])
def test_source_and_legal_basis_are_required_single_lines(app, db, name, value):
    options = {"source": SOURCE, "legal_basis": LEGAL_BASIS, name: value}
    with app.app_context(), pytest.raises(ValueError):
        importing.import_subscribers(
            db, io.StringIO("email\n"), mode="confirmed", actor="t", now=utcnow(), **options
        )


def test_the_fast_address_check_agrees_with_normalise_email():
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "._%+-'!#\"@ "
    domains = ["Example.ORG", "sub.example.com", "localhost", "a..b.org", "exa_mple.org"]
    samples = ["a@b@example.org", "x" * 65 + "@example.org", "a@" + "b" * 250 + ".org"]
    samples += ["é@example.org", "a@ëxample.org", ".a@example.org", "a.@example.org", ""]
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        samples.append(f"{local}@{rng.choice(domains)}")
    cache = {}
    for text in samples:
        try:
            expected = subscribers.normalise_email(text)
        except subscribers.InvalidAddress:
            expected = "invalid"
        try:
            got = importing.normalise_email(text, cache)
        except subscribers.InvalidAddress:
            got = "invalid"
        assert got == expected, text


def write_csv(tmp_path, text):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_requires_source_legal_basis_and_a_mode(runner, tmp_path, db):
    path = write_csv(tmp_path, "email\na@example.org\n")
    result = runner.invoke(args=["subscribers", "import", path, "--confirmed"])
    assert result.exit_code == 2 and "--source" in result.output
    base = ["subscribers", "import", path, "--source", SOURCE]
    result = runner.invoke(args=[*base, "--confirmed"])
    assert result.exit_code == 2 and "--legal-basis" in result.output
    base += ["--legal-basis", LEGAL_BASIS]
    for flags in ([], ["--confirmed", "--double-opt-in"]):
        result = runner.invoke(args=[*base, *flags])
        assert result.exit_code == 2 and "exactly one of --confirmed or --double-opt-in" in (
            result.output
        )
    result = runner.invoke(args=[*base[:-1], "two\nlines", "--confirmed"])
    assert result.exit_code == 2 and "one line" in result.output
    assert db["subscribers"].count == 0


def test_cli_lists_invalid_rows_and_exits_1(runner, tmp_path, db):
    rows = "".join(f"bad{n}\n" for n in range(60))
    path = write_csv(tmp_path, "email\nok@example.org\n" + rows)
    args = ["subscribers", "import", path, "--source", SOURCE, "--legal-basis", LEGAL_BASIS]
    result = runner.invoke(args=[*args, "--confirmed"])
    assert result.exit_code == 1
    assert "Nothing imported: 60 invalid rows." in result.output
    assert "line 3: “bad0” is not a valid e-mail address.\n" in result.output
    assert "line 52: " in result.output and "line 53: " not in result.output
    assert "... and 10 more" in result.output
    assert db["subscribers"].count == 0


def test_cli_imports_prints_a_summary_and_audits_counts_only(app, runner, tmp_path, db):
    with app.app_context():
        subscribers.suppress(db, "gone@example.org", "unsubscribe", utcnow())
    text = "email,first_name\nnew@example.org,Nina\nnew@example.org,\ngone@example.org,\n"
    args = ["subscribers", "import", write_csv(tmp_path, text)]
    args += ["--source", SOURCE, "--legal-basis", LEGAL_BASIS, "--confirmed"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "rows read: 3 (1 duplicate merged)" in result.output
    assert "added as active subscribers: 1" in result.output
    assert f"refused, {importing.REFUSED_REASON}: 1" in result.output
    assert "line 4: g***@example.org" in result.output
    [entry] = db["audit_log"].rows
    assert entry["action"] == "import" and entry["actor"].startswith("cli:")
    assert entry["target"] is None
    detail = json.loads(entry["detail"])
    assert detail == {
        "added": 1,
        "already_subscribed": 0,
        "import_id": 1,
        "legal_basis": LEGAL_BASIS,
        "merged": 1,
        "mode": "confirmed",
        "refused": 1,
        "source": SOURCE,
        "topic_id": 1,  # the main topic, as none was named
    }
    assert "@" not in entry["detail"]


def test_cli_double_opt_in_sends_mails(runner, tmp_path, db, mailbox):
    args = ["subscribers", "import", write_csv(tmp_path, "email\np@example.org\n")]
    args += ["--source", SOURCE, "--legal-basis", LEGAL_BASIS, "--double-opt-in"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "stored as pending, confirmation mail sent: 1" in result.output
    [message] = mailbox.wait_for(1)
    assert message["To"] == "p@example.org"


def test_a_file_that_is_not_utf8_is_refused(app, db):
    raw = io.BytesIO(b"email,first_name\nok@example.org,Ok\nlatin@example.org,Ren\xe9\n")
    with app.app_context():
        report = importing.import_subscribers(
            db,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""),
            source=SOURCE,
            legal_basis=LEGAL_BASIS,
            mode="confirmed",
            actor="tester",
            now=utcnow(),
        )
    assert not report.imported
    [(_, reason)] = report.errors
    assert "cannot be read" in reason and "utf-8" in reason
    assert db["subscribers"].count == 0
