"""A real Dovecot IMAP server with a private configuration, for `bounces fetch`.

Debian's `dovecot-imapd` gives the programs; the test writes its own dovecot.conf in a
temporary folder (a passwd-file of users, maildirs under the folder, IMAPS and
IMAP+STARTTLS on high ports of 127.0.0.1, a certificate it made with openssl) and
starts a master with `dovecot -c FILE`. The master runs as root (through `sudo -n`
otherwise) and gives the mail processes to an unprivileged user.
"""

import imaplib
import os
import pwd
import ssl
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from deploy_helpers import chown_tree, free_port, make_certificate
from postfix_helpers import as_root, require_root_program

# Whose files the mail processes read and write when the tests run as root.
MAIL_USER_WHEN_ROOT = "nobody"
USER, PASSWORD = "bounces", "a-test-password-for-dovecot"

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_dh = </usr/share/dovecot/dh.pem
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def require_dovecot():
    """The `dovecot` command's path; skip (or fail under WEPRODE_REQUIRE_DOVECOT=1) without it."""
    return require_root_program("dovecot", "dovecot-imapd", "WEPRODE_REQUIRE_DOVECOT")


def mail_user():
    """(uid, gid) that owns the maildirs."""
    entry = pwd.getpwuid(os.getuid())
    if os.geteuid() == 0:
        entry = pwd.getpwnam(MAIL_USER_WHEN_ROOT)
    return entry.pw_uid, entry.pw_gid


class Dovecot:
    """A running private Dovecot: its ports, certificate and one mail user."""

    def __init__(self, root):
        self.root = Path(root)
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.cert, self.key = make_certificate(self.root)
        self.user, self.password = USER, PASSWORD

    def write_config(self):
        """dovecot.conf and the passwd-file; everything owned by the mail user."""
        uid, gid = mail_user()
        conf = self.root / "dovecot.conf"
        conf.write_text(
            DOVECOT_CONF.format(
                root=self.root,
                cert=self.cert,
                key=self.key,
                uid=uid,
                gid=gid,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
            )
        )
        home = self.root / "home" / self.user
        home.mkdir(parents=True)
        line = f"{self.user}:{{PLAIN}}{self.password}:{uid}:{gid}::{home}::\n"
        (self.root / "users").write_text(line)
        chown_tree(self.root / "home", uid, gid)
        return conf

    def session(self):
        """A logged-in IMAPS session (the test's own client, for APPEND and checks)."""
        context = ssl.create_default_context(cafile=str(self.cert))
        session = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context)
        session.login(self.user, self.password)
        return session

    def log(self):
        """Dovecot's log, for failure messages."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no dovecot.log)"


@contextmanager
def running_dovecot(root):
    """Start a private Dovecot in `root`; stop it afterwards."""
    dovecot = require_dovecot()
    server = Dovecot(root)
    conf = server.write_config()
    # The master daemonizes and keeps its output open: a file, not a pipe, to wait on.
    with open(root / "start.log", "wb") as output:
        started = subprocess.run(as_root([dovecot, "-c", str(conf)]), stdout=output, stderr=output)
    if started.returncode != 0:
        log = (root / "start.log").read_text(errors="replace")
        pytest.fail(f"dovecot -c {conf} failed: {log}\n{server.log()}")
    try:
        wait_for_login(server)
        yield server
    finally:
        subprocess.run(
            as_root([dovecot, "-c", str(conf), "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_stopped(root / "run" / "master.pid")


def wait_for_login(server, timeout=15.0):
    """Wait until the server answers a login (the master starts its listeners async)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.session().logout()
            return
        except (OSError, imaplib.IMAP4.error) as error:
            if time.monotonic() > deadline:
                pytest.fail(f"Dovecot does not answer: {error}\n{server.log()}")
            time.sleep(0.1)


def wait_until_stopped(pid_file, timeout=15.0):
    """Wait for the master to exit (its stop command does not wait)."""
    deadline = time.monotonic() + timeout
    while Path(pid_file).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
