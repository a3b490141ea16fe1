"""Helpers for the deployment-kit tests: nginx, a self-signed certificate, a service user."""

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from process_helpers import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
SITE_FILE = DEPLOY / "nginx" / "weprode.conf"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
CONFIG_EXAMPLE = DEPLOY / "config.example.py"
UNITS = DEPLOY / "systemd"
# The user the app runs as when the tests run as root (production: weprode).
SERVICE_USER = "nobody"


def find_program(name):
    """The path of `name`, looking in the sbin folders too (nginx lives in /usr/sbin)."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    return shutil.which(name, path=path)


def require_nginx():
    """nginx's path; skip (or fail when WEPRODE_REQUIRE_NGINX=1, as in CI) without it."""
    nginx = find_program("nginx")
    if nginx is None:
        reason = "nginx is not installed (apt-get install nginx); .ci/run installs it"
        if os.environ.get("WEPRODE_REQUIRE_NGINX") == "1":
            pytest.fail(reason + ", and WEPRODE_REQUIRE_NGINX=1 requires it")
        pytest.skip(reason + "; WEPRODE_REQUIRE_NGINX=1 turns this skip into a failure")
    return nginx


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ipv6_available():
    """True when this machine can listen on ::1 (some containers have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def replace_exactly(text, old, new, count):
    """`text` with `old` replaced, failing when it does not occur exactly `count` times.

    The site file is tested as shipped: if one of its paths or ports changes, the test
    says so instead of silently testing something else.
    """
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times, not {count}"
    return text.replace(old, new)


def render_site(*, https_port, http_port, upstream, cert, key, static, logs):
    """The shipped site file with its production ports and paths swapped for the test's."""
    text = SITE_FILE.read_text()
    text = replace_exactly(text, "listen 443 ssl http2;", f"listen {https_port} ssl http2;", 1)
    text = replace_exactly(text, "listen 80;", f"listen {http_port};", 1)
    if ipv6_available():
        text = replace_exactly(
            text, "listen [::]:443 ssl http2;", f"listen [::1]:{https_port} ssl http2;", 1
        )
        text = replace_exactly(text, "listen [::]:80;", f"listen [::1]:{http_port};", 1)
    else:
        text = replace_exactly(text, "listen [::]:443 ssl http2;", "", 1)
        text = replace_exactly(text, "listen [::]:80;", "", 1)
    text = replace_exactly(
        text, "/etc/letsencrypt/live/www.weprode.com/fullchain.pem", str(cert), 1
    )
    text = replace_exactly(text, "/etc/letsencrypt/live/www.weprode.com/privkey.pem", str(key), 1)
    text = replace_exactly(text, "/srv/weprode/static/", f"{static}/", 1)
    text = replace_exactly(text, "http://127.0.0.1:8000;", f"http://{upstream};", 3)
    text = replace_exactly(
        text, "/var/log/nginx/weprode.access.log", str(Path(logs) / "access.log"), 2
    )
    text = replace_exactly(
        text, "/var/log/nginx/weprode.error.log", str(Path(logs) / "error.log"), 1
    )
    return text


def write_nginx_prefix(prefix, site_text):
    """A private nginx prefix: nginx.conf (pid, temp folders, logs under it) and the site.

    Returns the path of nginx.conf. The http {} block holds what Debian's own nginx.conf
    would (MIME types) and includes the site file, as sites-enabled/ does.
    """
    prefix = Path(prefix)
    for folder in ("logs", "temp", "conf"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    (prefix / "conf" / "weprode.conf").write_text(site_text)
    mime_types = Path("/etc/nginx/mime.types")
    temp = prefix / "temp"
    conf = prefix / "conf" / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/main-error.log;
events {{ worker_connections 64; }}
http {{
    {f"include {mime_types};" if mime_types.exists() else ""}
    default_type application/octet-stream;
    access_log {prefix}/logs/main-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/conf/weprode.conf;
}}
"""
    )
    return conf


def make_certificate(folder, names="DNS:localhost,IP:127.0.0.1"):
    """A self-signed certificate for `names` (localhost and 127.0.0.1): (cert, key paths)."""
    cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", f"subjectAltName={names}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def service_user():
    """(prefix for commands, uid, gid): a non-root user when the tests run as root.

    Production runs everything as `weprode`; as root, the test runs the same commands
    as `nobody` through `setpriv`, so a kit that only works as root fails here.
    """
    if os.geteuid() != 0:
        return [], os.getuid(), os.getgid()
    setpriv = find_program("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the app as a non-root user"
    entry = pwd.getpwnam(SERVICE_USER)
    prefix = [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]
    return prefix, entry.pw_uid, entry.pw_gid


def chown_tree(root, uid, gid):
    """Give `root` and everything under it to uid:gid."""
    for folder, _folders, files in os.walk(root):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid)
