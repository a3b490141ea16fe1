"""Bulk ingest parses in worker processes: same readings, same order, nothing lost."""

import mailbox as mailboxes
import multiprocessing
import os
import signal
from pathlib import Path

from test_deliverability_reports import sample

from tests.campaign_helpers import add_subscribers, new_campaign
from weprode.campaigns import freeze
from weprode.db import utcnow
from weprode.deliverability import reading, verp
from weprode.deliverability.readers import TASK_SIZE, Readers
from weprode.newsletter import subscribers

SAMPLES = Path(__file__).parent / "samples" / "bounces"
ADDRESS = ("bounces", "weprode.com")


def every_sample():
    """Each sample once, its placeholders filled: every shape a report comes in."""
    names = [path.name for path in sorted(SAMPLES.glob("*.eml"))]
    raws = [sample(name) for name in names]
    ours = "<campaign-3.7.0123456789abcdef@weprode.com>"  # no tag: found by Message-ID
    raws += [sample(name, verp="bounces@weprode.com", message_id=ours) for name in names]
    return raws + [path.read_bytes() for path in sorted(SAMPLES.glob("flufl/*.txt"))]


def test_workers_read_every_message_as_this_process_does():
    raws = every_sample() * 8
    expected = [reading.read_safely(raw, ADDRESS) for raw in raws]
    with Readers(2, ADDRESS, threshold=1) as readers:
        got = list(readers.read(enumerate(raws)))
        assert readers.pool is not None  # the workers did read them
    assert [key for key, _, _ in got] == list(range(len(raws)))
    assert [read for _, _, read in got] == expected
    assert any(read.tags for read in expected) and any(read.message_ids for read in expected)


def test_a_killed_worker_costs_speed_not_reports():
    raws = every_sample() * 12
    expected = [reading.read_safely(raw, ADDRESS) for raw in raws]
    got = []
    others = {child.pid for child in multiprocessing.active_children()}  # not ours to kill
    with Readers(2, ADDRESS, threshold=1) as readers:
        for number, item in enumerate(readers.read(enumerate(raws))):
            got.append(item)
            if number == 0:  # tasks are in flight: kill a worker under them
                workers = [c.pid for c in multiprocessing.active_children() if c.pid not in others]
                os.kill(workers[0], signal.SIGKILL)
        assert readers.broken
    assert len(raws) > 8 * TASK_SIZE  # more than the tasks in flight when it died
    assert [key for key, _, _ in got] == list(range(len(raws)))
    assert [read for _, _, read in got] == expected


def test_a_few_messages_are_read_without_starting_workers():
    with Readers(2, ADDRESS) as readers:
        got = list(readers.read(enumerate(every_sample())))
        assert readers.pool is None
    assert len(got) == len(every_sample())


def reports_for_everyone(app, db, people, shapes):
    """A campaign sent (as far as the ledger knows) to each person, and a report about
    each, the shapes taken in turn; (subscriber ids, reports)."""
    app.config["BOUNCE_ADDRESS"] = "bounces@weprode.com"
    ids = add_subscribers(app, db, people)
    campaign_id = new_campaign(db)
    with app.app_context():
        freeze.start(db, campaign_id, utcnow())
    db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", [campaign_id])
    raws = []
    with app.app_context():
        for number, ((email, _, _), subscriber_id) in enumerate(zip(people, ids, strict=True)):
            sender = verp.envelope_sender("campaign", subscriber_id, campaign_id)
            raws.append(sample(shapes[number % len(shapes)], verp=sender, email=email))
    return ids, raws


def test_mbox_ingested_by_worker_processes(app, db, runner, tmp_path):
    people = [(f"p{n:03d}@example.org", None, "en") for n in range(240)]
    shapes = ["postfix_user_unknown.eml", "yahoo_arf_complaint.eml", "outlook_out_of_office.eml"]
    ids, raws = reports_for_everyone(app, db, people, shapes)
    box = mailboxes.mbox(tmp_path / "reports.mbox")
    for raw in [*raws, raws[0]]:  # the first one delivered twice
        box.add(raw)
    box.close()
    result = runner.invoke(
        args=["bounces", "ingest", "--workers", "2", "--mbox", str(tmp_path / "reports.mbox")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 241
    kinds = ["bounce (dsn)", "complaint (arf)", "auto_reply"]
    for number, line in enumerate(lines[:240]):  # in the mbox's order
        assert line.startswith(f"{number + 1}: {kinds[number % 3]}"), line
    assert "already ingested (report 1)" in lines[240]
    with app.app_context():
        statuses = [subscribers.get(db, subscriber_id)["status"] for subscriber_id in ids]
    assert statuses == ["bounced", "churned", "active"] * 80
