"""A real Postfix with its own configuration directory, for the bounce intake tests.

Debian's `postfix` package gives the programs; each test writes its own main.cf and
master.cf in a temporary folder (private queue and data directories, smtpd on a high
port of 127.0.0.1, the system instance untouched) and starts a master with
`postfix -c DIR start`. The master must run as root: as another user the commands go
through `sudo -n`.
"""

import os
import pwd
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from deploy_helpers import find_program

# The user Postfix's pipe runs `bounces ingest` as when the tests run as root (the pipe
# refuses root; production uses the site's own user).
PIPE_USER_WHEN_ROOT = "nobody"

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# Bounce mail to the VERP domain goes to `flask bounces ingest` (see README, "Bounces").
weprodebounces unix -   n       n       -       -       pipe
  flags=DRq user={pipe_user} argv={pipe_command}
"""

MAIN_CF = """\
compatibility_level = 3.6
meta_directory = /etc/postfix
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
myhostname = mx.weprode.test
mydomain = weprode.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_tls_security_level = none
relayhost = [127.0.0.1]:{next_hop_port}
transport_maps = inline:{{ {bounce_domain}=weprodebounces: }}
weprodebounces_destination_recipient_limit = 1
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


def require_root_program(program, package, variable):
    """`program`'s path, when it is installed and can run as root (itself or sudo -n).

    Skips with the reason otherwise, or fails when the environment `variable` is 1
    (as .ci/run sets it, so CI never passes by skipping).
    """
    path = find_program(program)
    reason = ""
    if path is None:
        reason = f"{program} is not installed (apt-get install {package}); .ci/run installs it"
    elif os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"]).returncode != 0:
        reason = f"{program}'s master needs root, and sudo -n is not allowed here"
    if reason:
        if os.environ.get(variable) == "1":
            pytest.fail(f"{reason}, and {variable}=1 requires it")
        pytest.skip(f"{reason}; {variable}=1 turns this skip into a failure")
    return path


def require_postfix():
    """The `postfix` command's path; skip (or fail under WEPRODE_REQUIRE_POSTFIX=1) without it."""
    return require_root_program("postfix", "postfix", "WEPRODE_REQUIRE_POSTFIX")


def as_root(command):
    """`command` as root: itself when we are root, else through `sudo -n`."""
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


def pipe_user():
    """(name, uid, gid) of the user Postfix's pipe runs the ingest command as."""
    entry = pwd.getpwuid(os.getuid())
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PIPE_USER_WHEN_ROOT)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def write_config(root, *, port, next_hop_port, bounce_domain, pipe_command, user):
    """main.cf and master.cf in root/conf; the folders Postfix wants, owned as it wants."""
    conf = root / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text(
        MAIN_CF.format(root=root, next_hop_port=next_hop_port, bounce_domain=bounce_domain)
    )
    (conf / "master.cf").write_text(
        MASTER_CF.format(port=port, pipe_user=user, pipe_command=pipe_command)
    )
    # Postfix wants its queue owned by root and its data directory by its own user.
    subprocess.run(as_root(["mkdir", "-m", "0755", str(root / "queue")]), check=True)
    subprocess.run(as_root(["mkdir", "-m", "0700", str(root / "data")]), check=True)
    subprocess.run(as_root(["chown", "root", str(root / "queue")]), check=True)
    subprocess.run(as_root(["chown", "postfix", str(root / "data")]), check=True)
    return conf


def log_text(root):
    """Postfix's own log (maillog_file), for failure messages."""
    path = Path(root) / "postfix.log"
    return path.read_text(errors="replace") if path.exists() else "(no postfix.log)"


@contextmanager
def running_postfix(postfix, conf, root):
    """Start a master on `conf`; stop it (and wait for it to be gone) afterwards."""
    started = subprocess.run(
        as_root([postfix, "-c", str(conf), "start"]), capture_output=True, text=True
    )
    if started.returncode != 0:
        reason = f"postfix -c {conf} start failed: {started.stderr}\n{log_text(root)}"
        if os.environ.get("WEPRODE_REQUIRE_POSTFIX") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    pid_file = Path(root) / "queue" / "pid" / "master.pid"
    try:
        yield
    finally:
        subprocess.run(as_root([postfix, "-c", str(conf), "stop"]), capture_output=True)
        wait_until_gone(pid_file)


def wait_until_gone(pid_file, timeout=15.0):
    """Wait for the master named in `pid_file` to exit (Postfix's stop does not wait)."""
    try:
        pid = int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass  # alive, and root's: keep waiting
        time.sleep(0.1)


def remove_tree(root):
    """Remove a folder that holds root-owned files (the queue)."""
    if os.geteuid() == 0:
        shutil.rmtree(root, ignore_errors=True)
    else:
        subprocess.run(as_root(["rm", "-rf", str(root)]), check=False)
