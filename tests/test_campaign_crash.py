"""kill -9 of a real sending process, then a restart: nobody lost, few sent twice."""

import collections
import signal
import subprocess
import sys
import time

from campaign_helpers import add_subscribers, new_campaign
from process_helpers import PROJECT_ROOT, flask_env

from weprode.campaigns import ledger

RECIPIENTS = 400
BATCH, CONNECTIONS = 10, 2


def send_process(app, campaign_id):
    """`flask campaigns send ID` in a child process, configured like the test app."""
    env = flask_env(
        app,
        FLASK_CAMPAIGN_MESSAGES_PER_SECOND="400",
        FLASK_CAMPAIGN_BATCH_SIZE=str(BATCH),
        FLASK_CAMPAIGN_SMTP_CONNECTIONS=str(CONNECTIONS),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "campaigns", "send", str(campaign_id)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_kill_9_then_restart_loses_no_recipient(app, db, mailbox):
    add_subscribers(app, db, [(f"r{i:04d}@example.org", None, "en") for i in range(RECIPIENTS)])
    campaign_id = new_campaign(db)
    first = send_process(app, campaign_id)
    deadline = time.monotonic() + 30
    while len(mailbox.messages) < RECIPIENTS // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    received_before_restart = len(mailbox.messages)
    assert 0 < received_before_restart < RECIPIENTS, "kill landed mid-send"
    assert ledger.get(db, campaign_id)["status"] == "sending"

    second = send_process(app, campaign_id)
    output, errors = second.communicate(timeout=60)
    assert second.returncode == 0, errors.decode()
    assert b"sent:" in output
    mailbox.wait_for(RECIPIENTS)
    per_recipient = collections.Counter(message["To"] for message in mailbox.messages)
    assert len(per_recipient) == RECIPIENTS  # nobody lost
    twice = sum(count - 1 for count in per_recipient.values())
    assert twice <= BATCH * CONNECTIONS  # at most what was in flight at the kill
    figures = ledger.figures(db, campaign_id)
    assert figures["sent"] == RECIPIENTS and ledger.get(db, campaign_id)["status"] == "sent"
