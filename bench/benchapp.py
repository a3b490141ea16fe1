"""The production app plus a bare hello-world route, for the bench scripts only.

`gunicorn 'benchapp:create_bench_app()'` (with bench/ on the Python path) serves it.
Importing the module builds nothing, so bench scripts can read `HELLO_PATH` from it.
The instance folder comes from WEPRODE_BENCH_INSTANCE: a bench never touches instance/.
"""

import os

from weprode import create_app

INSTANCE_ENV = "WEPRODE_BENCH_INSTANCE"
HELLO_PATH = "/__bench/hello"


def hello():
    """The cheapest response the app can give: the baseline pages are compared with."""
    return "Hello, world!", 200, {"Content-Type": "text/plain; charset=utf-8"}


def create_bench_app():
    """The real app on a throwaway instance folder, with the hello route added."""
    instance_path = os.environ.get(INSTANCE_ENV)
    if not instance_path:
        raise RuntimeError(f"{INSTANCE_ENV} must name a temporary instance folder")
    bench_app = create_app(instance_path=instance_path)
    bench_app.add_url_rule(HELLO_PATH, "bench_hello", hello)
    return bench_app
