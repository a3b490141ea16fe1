"""The deployment kit's files (deploy/): systemd units, gunicorn settings, nginx site, config."""

import configparser
import runpy
import shlex
import subprocess
import tomllib

import pytest
from deploy_helpers import (
    CONFIG_EXAMPLE,
    GUNICORN_CONF,
    UNITS,
    find_program,
    make_certificate,
    render_site,
    require_nginx,
    write_nginx_prefix,
)
from gunicorn.app.base import Application
from process_helpers import PROJECT_ROOT

from weprode import config

SERVICES = ("migrate", "web", "worker", "purge", "outbox-retry", "backup")
TIMERS = ("purge", "outbox-retry", "backup")


def read_unit(name):
    """A unit file as a ConfigParser (keys keep their case; repeated keys are refused)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text())
    return parser


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_runs_as_weprode_from_the_checkout_without_environment(name):
    unit = read_unit(f"weprode-{name}.service")
    service = unit["Service"]
    assert service["User"] == "weprode" and service["Group"] == "weprode"
    assert service["UMask"] == "0027"
    assert service["WorkingDirectory"] == "/srv/weprode"
    program = shlex.split(service["ExecStart"])[0]
    assert program.startswith("/srv/weprode/.venv/bin/")
    # One configuration source: instance/config.py, read by the factory.
    assert not any(key.startswith("Environment") for key in service)
    assert service["ReadWritePaths"] == "/srv/weprode/instance"
    assert unit.has_section("Install")


def test_migrate_runs_once_before_the_web_and_the_worker():
    migrate = read_unit("weprode-migrate.service")["Service"]
    assert migrate["Type"] == "oneshot"
    assert migrate["ExecStart"].endswith("flask --app app migrate")
    for name in ("web", "worker"):
        unit = read_unit(f"weprode-{name}.service")["Unit"]
        assert "weprode-migrate.service" in unit["Requires"].split()
        assert "weprode-migrate.service" in unit["After"].split()


def test_web_runs_gunicorn_with_the_kit_settings_and_the_worker_always_restarts():
    web = read_unit("weprode-web.service")["Service"]
    assert shlex.split(web["ExecStart"]) == [
        "/srv/weprode/.venv/bin/gunicorn",
        "--config",
        "deploy/gunicorn.conf.py",
    ]
    worker = read_unit("weprode-worker.service")["Service"]
    assert worker["ExecStart"].endswith("flask --app app campaigns worker")
    assert worker["Restart"] == "always"


@pytest.mark.parametrize("name", TIMERS)
def test_timers_start_their_service(name):
    timer = read_unit(f"weprode-{name}.timer")
    assert timer["Timer"]["Unit"] == f"weprode-{name}.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert read_unit(f"weprode-{name}.service")["Service"]["Type"] == "oneshot"
    assert read_unit("weprode-purge.timer")["Timer"]["OnCalendar"] == "daily"


def test_systemd_accepts_every_unit(tmp_path):
    analyze = find_program("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the units are checked by parsing only")
    # systemd checks that each ExecStart exists: point them at this checkout.
    for path in UNITS.iterdir():
        text = path.read_text().replace("/srv/weprode", str(PROJECT_ROOT))
        (tmp_path / path.name).write_text(text)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert len(names) == len(SERVICES) + len(TIMERS)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys and other mistakes are only warnings: there must be none.
    assert result.stderr.strip() == "", result.stderr


class KitSettings(Application):
    """gunicorn's own loader, reading deploy/gunicorn.conf.py and nothing else."""

    def init(self, parser, opts, args):
        """No command line."""

    def load_config(self):
        """Only the kit's file (not sys.argv, which is pytest's)."""
        self.load_config_from_file(str(GUNICORN_CONF))

    def load(self):
        """Never called: the test reads settings only."""


def test_gunicorn_settings_load_and_open_no_control_socket(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = KitSettings(usage=None).cfg
    assert settings.control_socket_disable is True
    assert settings.bind == ["127.0.0.1:8000"]
    assert settings.workers == 2
    assert settings.forwarded_allow_ips == ["127.0.0.1"]
    assert settings.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}
    assert settings.wsgi_app == "app:app"
    assert settings.timeout == 60


def test_gunicorn_worker_count_follows_web_concurrency(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    assert KitSettings(usage=None).cfg.workers == 5


def test_gunicorn_is_pinned_to_the_tested_major_version():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    [pin] = [spec for spec in project["dependencies"] if spec.startswith("gunicorn")]
    # control_socket_disable exists since 25.1; the kit was tested with 27.
    assert pin == "gunicorn>=27,<28"


def test_config_example_is_valid_python_with_safe_values():
    settings = runpy.run_path(str(CONFIG_EXAMPLE))
    assert settings["PUBLIC_URL"].startswith("https://")
    assert settings["TRUSTED_PROXIES"] == 1
    assert settings["SECRET_KEY_FALLBACKS"] == []
    # Copied unedited, the placeholder key stops the start-up instead of signing links.
    assert config.is_weak_secret_key(settings["SECRET_KEY"])
    for key in ("MAIL_SERVER", "MAIL_PORT", "CONTACT_NOTIFY_ADDRESS", "STAFF_REQUIRE_TOTP"):
        assert key in settings
    names = {name for name in settings if not name.startswith("__")}
    assert names - set(config.DEFAULTS) == set(), "keys the site does not know"


def test_nginx_accepts_the_site(tmp_path):
    nginx = require_nginx()
    cert, key = make_certificate(tmp_path)
    site = render_site(
        https_port=8443,
        http_port=8080,
        upstream="127.0.0.1:8000",
        cert=cert,
        key=key,
        static=PROJECT_ROOT / "static",
        logs=tmp_path / "prefix" / "logs",
    )
    conf = write_nginx_prefix(tmp_path / "prefix", site)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path / "prefix"), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    # nginx 1.25.1+ prefers `http2 on;`, which Debian 12's 1.22 does not know yet.
    warnings = [
        line
        for line in result.stderr.splitlines()
        if "[warn]" in line and '"listen ... http2" directive is deprecated' not in line
    ]
    assert warnings == [], result.stderr
