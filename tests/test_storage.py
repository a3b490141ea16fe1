"""Files in the instance folder are private; folders the site cannot write stop the start."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from newsletter_helpers import sign_up

from weprode import db as database
from weprode.db import connect

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
SECRET_KEY = "storage-test-secret-key-long-enough-0123456789"
RUNNING_AS_ROOT = os.geteuid() == 0


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def any_umask():
    """Files must be private because of their explicit modes, not the umask's mercy."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_database_wal_shm_key_and_logs_are_private_whatever_the_umask(make_app, mailbox, any_umask):
    app = make_app(DATABASE="", SECRET_KEY=None)
    instance = Path(app.instance_path)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert sign_up(client).status_code in (200, 303)
    db = connect(app.config["DATABASE"])
    db["subscribers"].count  # noqa: B018 (an open reader keeps -wal and -shm on disk)

    assert app.config["DATABASE"] == str(instance / "weprode.sqlite3")
    for name in ("weprode.sqlite3", "weprode.sqlite3-wal", "weprode.sqlite3-shm", "secret_key"):
        assert mode(instance / name) == 0o600, name
    assert mode(instance / "weprode.sqlite3.write-lock") == 0o600
    assert mode(instance / "logs") == 0o750
    logs = list((instance / "logs").iterdir())
    assert logs and all(mode(path) == 0o640 for path in logs)
    every_file = [path for path in instance.rglob("*")]
    assert every_file and all(mode(path) & 0o007 == 0 for path in every_file)
    db.close()


def test_files_an_older_version_left_readable_are_made_private(make_app, tmp_path):
    instance = tmp_path / "instance0"
    (instance / "logs").mkdir(parents=True)
    old = [instance / "weprode.sqlite3", instance / "logs" / "access-2025-01-01.log"]
    for path in old:
        path.write_bytes(b"")
        path.chmod(0o644)
    make_app(DATABASE="")
    # Others lose every permission; the group keeps what the operator gave it.
    assert mode(old[0]) == 0o640
    assert mode(old[1]) == 0o640


def test_every_connection_caps_the_wal_left_on_disk(tmp_path):
    db = connect(tmp_path / "size.sqlite3")
    limit = db.execute("PRAGMA journal_size_limit").fetchone()[0]
    assert limit == database.WAL_SIZE_LIMIT == 64 * 1024 * 1024
    db.close()


def test_after_a_large_write_and_a_checkpoint_the_wal_shrinks_to_the_limit(tmp_path, monkeypatch):
    # The real limit is 64 MiB; the mechanism is the same with a smaller one.
    monkeypatch.setattr(database, "WAL_SIZE_LIMIT", 256 * 1024)
    path = tmp_path / "size.sqlite3"
    wal = Path(f"{path}-wal")
    db = connect(path)
    db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoint only when this test says so
    db["blobs"].insert_all({"data": os.urandom(1000)} for _ in range(2000))
    assert wal.stat().st_size > 1024 * 1024
    busy, _frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0
    db["blobs"].insert({"data": b"small"})  # the next writer starts the WAL over
    assert 0 < wal.stat().st_size <= 256 * 1024
    db.close()


# Start-up refused when a folder is not writable. As root, permission bits stop no
# write, so the app is started in a child process as `nobody` (setpriv); as anyone
# else, in a child process as that user, on folders made read-only.

START_APP = (
    "import json, sys\n"
    "from weprode import create_app\n"
    "create_app(json.loads(sys.argv[1]), instance_path=sys.argv[2])\n"
    "print('started')\n"
)


@pytest.fixture
def sandbox():
    """A folder every user may enter, removed afterwards."""
    if RUNNING_AS_ROOT and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot start the app as another user")
    base = Path(tempfile.mkdtemp(prefix="weprode-storage-"))
    base.chmod(0o755)
    yield base
    for path in [base, *base.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(base)


def folder(path, writable):
    """A folder the user starting the app may (or may not) write to."""
    path.mkdir(parents=True, exist_ok=True)
    if writable and RUNNING_AS_ROOT:
        os.chown(path, NOBODY, NOBODY)
    if not writable:
        path.chmod(0o555)
    return path


def start_app(instance, **config):
    """Start the app as the user who is not allowed to write; the finished process."""
    settings = {"TESTING": True, "SECRET_KEY": SECRET_KEY, **config}
    prefix = []
    if RUNNING_AS_ROOT:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*prefix, sys.executable, "-c", START_APP, json.dumps(settings), str(instance)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def expected_user():
    import pwd

    return pwd.getpwuid(NOBODY if RUNNING_AS_ROOT else os.geteuid()).pw_name


def test_the_app_starts_when_every_folder_is_writable(sandbox):
    instance = folder(sandbox / "instance", writable=True)
    run = start_app(instance)
    assert run.returncode == 0, run.stderr
    assert "started" in run.stdout


@pytest.mark.parametrize("setting", ["WEPRODE_INSTANCE_PATH", "DATABASE", "LOG_FOLDER"])
def test_a_folder_the_app_cannot_write_stops_the_start_with_the_fix(sandbox, setting):
    instance = folder(sandbox / "instance", writable=setting != "WEPRODE_INSTANCE_PATH")
    data = folder(sandbox / "data", writable=setting != "DATABASE")
    logs = folder(sandbox / "logs", writable=setting != "LOG_FOLDER")
    refused = {"WEPRODE_INSTANCE_PATH": instance, "DATABASE": data, "LOG_FOLDER": logs}[setting]

    run = start_app(instance, DATABASE=str(data / "weprode.sqlite3"), LOG_FOLDER=str(logs))

    assert run.returncode != 0
    assert "started" not in run.stdout
    assert "FolderNotWritable" in run.stderr
    message = run.stderr.strip().splitlines()[-1]
    assert f"{refused} ({setting}) is not writable" in message
    assert f"runs as, {expected_user()}" in message
    assert f"chown -R {expected_user()} {refused}" in message


def test_a_database_file_the_app_cannot_write_stops_the_start(sandbox):
    instance = folder(sandbox / "instance", writable=True)
    database_file = instance / "weprode.sqlite3"
    database_file.write_bytes(b"")
    database_file.chmod(0o444)  # as root: owned by root, so nobody may not write it

    run = start_app(instance)

    assert run.returncode != 0
    assert f"{database_file} (DATABASE) is not writable" in run.stderr
