"""One configuration for every process, and no start with a development or unsafe one.

Issue 16: a worker started without the web unit's environment mailed links to
http://127.0.0.1:5000, and `SECRET_KEY_FALLBACKS` read as text was used one character
per key. Outside debug and testing the app now refuses both, naming the fix.
"""

import os
import subprocess
import sys

import pytest
from process_helpers import PROJECT_ROOT

from weprode import create_app
from weprode.config import ConfigError

STRONG_KEY = "a-production-secret-key-long-enough-0123456789"
OLD_KEY = "the-previous-production-key-long-enough-98765"
PRODUCTION_CONFIG = f"""
PUBLIC_URL = "https://www.example.org:8443"
SECRET_KEY = "{STRONG_KEY}"
MAIL_SERVER = "relay.example.org"
MAIL_PORT = 587
"""


def instance_with(tmp_path, text):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "config.py").write_text(text)
    return instance


def child_environment(instance, **extra):
    """A shell's environment without any FLASK_* setting, pointing at `instance`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    return {**env, "WEPRODE_INSTANCE_PATH": str(instance), **extra}


def run_flask(instance, *args, **extra):
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=PROJECT_ROOT,
        env=child_environment(instance, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_from_the_instance_configuration_alone(tmp_path):
    app = create_app(instance_path=instance_with(tmp_path, PRODUCTION_CONFIG))
    assert not (app.debug or app.testing)
    assert app.config["PUBLIC_URL"] == "https://www.example.org:8443"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    "setting, reason",
    [
        ('PUBLIC_URL = "http://127.0.0.1:5000"', "PUBLIC_URL is the development default"),
        ('PUBLIC_URL = "http://127.0.0.1:5000/"', "PUBLIC_URL is the development default"),
        ('PUBLIC_URL = "http://www.example.org"', "PUBLIC_URL must be an https address"),
        ('MAIL_SERVER = "127.0.0.1"\nMAIL_PORT = 8025', "development mail sink"),
    ],
)
def test_production_refuses_a_development_setting_and_names_it(tmp_path, setting, reason):
    instance = instance_with(tmp_path, PRODUCTION_CONFIG + setting + "\n")
    with pytest.raises(ConfigError, match=reason) as refused:
        create_app(instance_path=instance)
    assert str(instance / "config.py") in str(refused.value)


def test_development_and_tests_keep_the_defaults(tmp_path):
    for mode in ({"DEBUG": True}, {"TESTING": True}):
        app = create_app(mode, instance_path=tmp_path)
        assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"


def test_a_command_from_a_bare_shell_refuses_the_defaults_instead_of_using_them(tmp_path):
    """The worker or a CLI run without the service's settings must not mail or sign."""
    bare = tmp_path / "bare"
    bare.mkdir()
    result = run_flask(bare, "campaigns", "list")
    assert result.returncode != 0
    assert "PUBLIC_URL is the development default" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_process_reads_the_same_instance_configuration(tmp_path):
    instance = instance_with(tmp_path, PRODUCTION_CONFIG)
    assert run_flask(instance, "migrate").returncode == 0
    listed = run_flask(instance, "campaigns", "list")
    assert listed.returncode == 0, listed.stderr
    script = (
        "from weprode import create_app; app = create_app(); "
        "print(app.config['PUBLIC_URL'], app.config['MAIL_SERVER'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=child_environment(instance),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["https://www.example.org:8443", "relay.example.org"]


# SECRET_KEY_FALLBACKS ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fallbacks",
    [
        f'"{OLD_KEY}"',  # a string in instance/config.py
        f'("{OLD_KEY}", 3)',  # not all keys
        '[""]',  # an empty key
    ],
)
def test_fallbacks_that_are_not_a_list_of_keys_stop_the_start(tmp_path, fallbacks):
    instance = instance_with(tmp_path, PRODUCTION_CONFIG + f"SECRET_KEY_FALLBACKS = {fallbacks}\n")
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS must be a list of keys"):
        create_app(instance_path=instance)
    # Even in development: a key of one character is never acceptable.
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS must be a list of keys"):
        create_app({"DEBUG": True}, instance_path=instance)


def test_fallbacks_in_instance_config_as_a_list_are_used_whole(tmp_path):
    instance = instance_with(
        tmp_path, PRODUCTION_CONFIG + f'SECRET_KEY_FALLBACKS = ["{OLD_KEY}"]\n'
    )
    app = create_app(instance_path=instance)
    assert app.config["SECRET_KEY_FALLBACKS"] == [OLD_KEY]


def test_weak_fallbacks_are_refused_like_a_weak_key(tmp_path):
    instance = instance_with(tmp_path, PRODUCTION_CONFIG + 'SECRET_KEY_FALLBACKS = ["dev"]\n')
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS: a key is weak"):
        create_app(instance_path=instance)


def start_from_shell(tmp_path, env_file_line):
    """Source an env file the way a shell script (or `set -a; . file`) does, then start."""
    instance = instance_with(tmp_path, PRODUCTION_CONFIG)
    env_file = tmp_path / "weprode.env"
    env_file.write_text(env_file_line + "\n")
    script = "from weprode import create_app; print(create_app().config['SECRET_KEY_FALLBACKS'])"
    return subprocess.run(
        ["bash", "-c", f'set -a; . "{env_file}"; exec "{sys.executable}" -c "$0"', script],
        cwd=PROJECT_ROOT,
        env=child_environment(instance),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fallbacks_whose_quotes_a_shell_removed_stop_the_start(tmp_path):
    # `["old"]` sourced by a shell (or unquoted in systemd's Environment=) arrives as `[old]`.
    result = start_from_shell(tmp_path, f'FLASK_SECRET_KEY_FALLBACKS=["{OLD_KEY}"]')
    assert result.returncode != 0
    assert "SECRET_KEY_FALLBACKS must be a list of keys, not '[" in result.stderr


def test_fallbacks_quoted_for_the_shell_arrive_as_a_list(tmp_path):
    result = start_from_shell(tmp_path, f"FLASK_SECRET_KEY_FALLBACKS='[\"{OLD_KEY}\"]'")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str([OLD_KEY])


@pytest.mark.parametrize(
    "value",
    [
        f"[{OLD_KEY}]",  # systemd `Environment=FLASK_SECRET_KEY_FALLBACKS=["old"]` unquotes
        OLD_KEY,  # a bare key
    ],
)
def test_fallbacks_from_the_environment_must_be_a_json_list(tmp_path, monkeypatch, value):
    monkeypatch.setenv("FLASK_SECRET_KEY_FALLBACKS", value)
    instance = instance_with(tmp_path, PRODUCTION_CONFIG)
    with pytest.raises(ConfigError, match="must be a list of keys"):
        create_app(instance_path=instance)


def test_a_token_signed_with_one_character_of_a_fallback_is_never_accepted(tmp_path, monkeypatch):
    """The attack of issue 16: with `[old]` used per character, the key `[` signed links."""
    from itsdangerous import URLSafeSerializer

    from weprode import tokens

    monkeypatch.setenv("FLASK_SECRET_KEY_FALLBACKS", f'["{OLD_KEY}"]')
    app = create_app({"TESTING": True}, instance_path=instance_with(tmp_path, PRODUCTION_CONFIG))
    forged = URLSafeSerializer("[", salt=tokens.UNSUBSCRIBE_SALT).dumps([1])
    with app.app_context():
        assert not tokens.check_unsubscribe_token(forged).ok
        genuine = URLSafeSerializer(OLD_KEY, salt=tokens.UNSUBSCRIBE_SALT).dumps([1])
        assert tokens.check_unsubscribe_token(genuine).ok
