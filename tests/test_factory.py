"""The factory, the config layers, the secret key policy and migrations."""

import os
import stat

import pytest

from weprode import create_app
from weprode.config import ConfigError
from weprode.db import connect
from weprode.migrations import apply_pending, migrations


def write_instance_config(instance, text):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(text)


def test_defaults_apply_when_nothing_is_configured(tmp_path):
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert app.config["DATABASE"] == str(tmp_path / "weprode.sqlite3")


def test_instance_config_beats_defaults(tmp_path):
    write_instance_config(tmp_path, 'PUBLIC_URL = "https://instance.example"\n')
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    assert app.config["PUBLIC_URL"] == "https://instance.example"


def test_environment_beats_instance_config(tmp_path, monkeypatch):
    write_instance_config(tmp_path, 'PUBLIC_URL = "https://instance.example"\nMAIL_PORT = 1\n')
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://env.example")
    monkeypatch.setenv("FLASK_MAIL_PORT", "2525")
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    assert app.config["PUBLIC_URL"] == "https://env.example"
    assert app.config["MAIL_PORT"] == 2525


def test_test_config_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://env.example")
    app = create_app({"TESTING": True, "PUBLIC_URL": "https://test.example"}, tmp_path)
    assert app.config["PUBLIC_URL"] == "https://test.example"


def test_instance_folder_can_be_named_by_the_environment(tmp_path, monkeypatch):
    write_instance_config(tmp_path / "elsewhere", 'PUBLIC_URL = "https://elsewhere.example"\n')
    monkeypatch.setenv("WEPRODE_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    app = create_app({"TESTING": True})
    assert app.instance_path == str(tmp_path / "elsewhere")
    assert app.config["PUBLIC_URL"] == "https://elsewhere.example"


def test_secret_key_is_generated_once_with_private_mode(tmp_path):
    first = create_app({"TESTING": True}, instance_path=tmp_path)
    second = create_app({"TESTING": True}, instance_path=tmp_path)
    key_file = tmp_path / "secret_key"
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


PRODUCTION = {"PUBLIC_URL": "https://www.example.org", "MAIL_SERVER": "relay.example.org"}


def test_generated_key_is_accepted_in_production(tmp_path):
    app = create_app(PRODUCTION, instance_path=tmp_path)
    assert not app.testing and not app.debug
    assert (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("weak_key", ["dev", "changeme", "short-key", "x" * 31])
def test_production_refuses_weak_secret_key(tmp_path, weak_key):
    with pytest.raises(ConfigError, match="SECRET_KEY: a key is weak"):
        create_app({**PRODUCTION, "SECRET_KEY": weak_key}, instance_path=tmp_path)


def test_development_tolerates_weak_key(tmp_path):
    app = create_app({"SECRET_KEY": "dev", "DEBUG": True}, instance_path=tmp_path)
    assert app.config["SECRET_KEY"] == "dev"


def test_migrations_apply_twice_without_error(tmp_path):
    db = connect(tmp_path / "twice.sqlite3")
    first = apply_pending(db)
    second = apply_pending(db)
    assert first == [m.name for m in migrations._migrations]
    assert second == []
    assert "subscribers" in db.table_names()


def test_migrate_command_is_idempotent(runner):
    # The `app` fixture already migrated: the command finds nothing to do, twice.
    for _ in range(2):
        result = runner.invoke(args=["migrate"])
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_migrate_command_applies_on_fresh_database(tmp_path):
    app = create_app({"TESTING": True}, instance_path=tmp_path)
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    # The shipped STAFF_LANGUAGE: operators read the command in French.
    assert "0001_subscribers appliquée" in result.output


def test_connection_pragmas(db):
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_migrations_import_no_application_code():
    """A migration is frozen history: editing a live module must not rewrite it."""
    import ast
    import inspect

    import weprode.migrations as module

    tree = ast.parse(inspect.getsource(module))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert "sqlite_utils" in imported, "the check must see the module's imports"
    application_code = {name for name in imported if name.startswith((".", "weprode"))}
    assert not application_code


# Packages whose service functions must carry type hints; every module under each.
TYPED_PACKAGES = (
    "newsletter",
    "contact",
    "mail",
    "site",
    "campaigns",
    "privacy",
    "staff",
    "admin",
    "operations",
    "deliverability",
)
# Decorators that hand a function to Flask or click, which call it themselves: views,
# request hooks and commands may stay unannotated.
FRAMEWORK_DECORATORS = {
    "route",
    "get",
    "post",
    "command",
    "group",
    "before_request",
    "after_request",
    "context_processor",
    "app_context_processor",
    "errorhandler",
    "user_loader",
}


def test_every_service_function_has_type_hints():
    """Public functions and methods say what they take and return (views and commands exempt)."""
    import ast
    from pathlib import Path

    import weprode

    package = Path(weprode.__file__).parent
    modules = sorted(package.glob("*.py"))
    for name in TYPED_PACKAGES:
        modules += sorted((package / name).rglob("*.py"))
    assert package / "db.py" in modules, "the check must see the modules"

    def is_framework_callback(function):
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            dotted = ast.unparse(target)
            if dotted.startswith("click.") or dotted.rpartition(".")[2] in FRAMEWORK_DECORATORS:
                return True
        return False

    def functions(body, prefix=""):
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield from functions(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{node.name}", node

    unannotated = []
    for path in modules:
        for qualname, function in functions(ast.parse(path.read_text()).body):
            if function.name.startswith("_") and not function.name.startswith("__"):
                continue
            if is_framework_callback(function):
                continue
            arguments = function.args
            parameters = [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *filter(None, [arguments.vararg, arguments.kwarg]),
            ]
            missing = [
                parameter.arg
                for parameter in parameters
                if parameter.annotation is None and parameter.arg not in ("self", "cls")
            ]
            if function.returns is None:
                missing.append("return")
            if missing:
                where = f"{path.relative_to(package.parent)}:{function.lineno}"
                unannotated.append(f"{where} {qualname} ({', '.join(missing)})")
    assert not unannotated, "missing type hints:\n" + "\n".join(unannotated)
