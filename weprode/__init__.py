"""The Weprode website: `create_app` builds the Flask application."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import Babel
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    admin,
    campaigns,
    cli,
    config,
    contact,
    db,
    deliverability,
    errors,
    keys,
    languages,
    mail,
    newsletter,
    operations,
    privacy,
    security,
    site,
    staff,
    static_files,
    storage,
    usage_log,
)

# Each capability registers its own blueprint and commands through `init_app(app)`.
CAPABILITIES = (
    site,
    newsletter,
    contact,
    privacy,
    mail,
    campaigns,
    deliverability,
    staff,
    admin,
    operations,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

babel = Babel()


def create_app(
    test_config: Mapping[str, Any] | None = None,
    instance_path: str | os.PathLike[str] | None = None,
) -> Flask:
    """Build the app: config layers, extensions, blueprints, commands.

    The instance folder (database, generated keys, `config.py`, logs) is `instance/`
    beside the code unless `WEPRODE_INSTANCE_PATH` names another one.
    """
    instance_path = instance_path or os.environ.get("WEPRODE_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path or PROJECT_ROOT / "instance").resolve()),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)

    storage.ensure_writable_folder(app.instance_path, "WEPRODE_INSTANCE_PATH")
    production = not (app.debug or app.testing)
    config.finalise(app.config, app.instance_path, production)
    storage.check_folders(app)

    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    babel.init_app(
        app,
        locale_selector=languages.select_locale,
        timezone_selector=languages.select_timezone,
    )
    languages.init_app(app)
    static_files.init_app(app)
    db.init_app(app)
    keys.init_app(app)
    usage_log.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    for capability in CAPABILITIES:
        capability.init_app(app)
    cli.init_app(app)
    return app
