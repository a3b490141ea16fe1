"""Public pages: home, services, about, legal notice, privacy policy, robots, sitemap."""

from . import views


def init_app(app):
    """Register the public pages."""
    app.register_blueprint(views.bp)
