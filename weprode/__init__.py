"""The Weprode website: `create_app` builds the Flask application."""

from pathlib import Path

from flask import Flask
from flask_babel import Babel
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    admin,
    cli,
    config,
    contact,
    db,
    errors,
    languages,
    mailer,
    newsletter,
    outbox,
    retention_cli,
    rights,
    security,
    site,
    usage_log,
)
from .campaigns import cli as campaigns_cli
from .rights import cli as rights_cli

PROJECT_ROOT = Path(__file__).resolve().parent.parent

babel = Babel()


def create_app(test_config=None, instance_path=None):
    """Build the app: config layers, extensions, blueprints, commands."""
    app = Flask(
        __name__,
        instance_path=str(instance_path or PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    production = not (app.debug or app.testing)
    config.finalise(app.config, app.instance_path, production)

    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    babel.init_app(app, locale_selector=languages.select_locale)
    languages.init_app(app)
    db.init_app(app)
    usage_log.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    mailer.init_app(app)
    app.register_blueprint(site.bp)
    app.register_blueprint(newsletter.bp)
    app.register_blueprint(contact.bp)
    app.register_blueprint(rights.bp)
    admin.init_app(app)
    cli.init_app(app)
    campaigns_cli.init_app(app)
    rights_cli.init_app(app)
    retention_cli.init_app(app)
    outbox.init_app(app)
    return app
