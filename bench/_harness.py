"""Pieces shared by the bench scripts: a gunicorn server, wrk, a Python fallback, smtp-sink.

Every loop here is bounded in time, and every process started here is stopped by
`GunicornServer.stop` or `SmtpSink.stop` (terminate, then kill) so a bench never leaves
a server behind.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Benches run as `python bench/x.py`, which puts bench/ first on sys.path; the project
# root is needed too, for devtools/ (weprode itself is installed in the venv).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(1, str(PROJECT_ROOT))

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_S = 10
REQUEST_TIMEOUT_S = 10


class ServerStartError(RuntimeError):
    """The server exited or never answered; the message carries its log tail."""


@dataclass
class LoadResult:
    """What one load run measured; percentiles are None when the tool gave none.

    `output` is wrk's report as printed (a Lua script's `done()` may add lines to it).
    `paths_sent` and `distinct_paths` count the requests sent and the different paths
    among them when the Python generator was given `paths`; None otherwise.
    """

    tool: str
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    errors: int
    output: str = ""
    paths_sent: int | None = None
    distinct_paths: int | None = None

    @property
    def failures(self):
        """Responses that were not successes plus requests that got no response."""
        return self.non_2xx + self.errors


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def gunicorn_executable():
    """The gunicorn installed next to the running interpreter (the project's venv)."""
    path = Path(sys.executable).parent / "gunicorn"
    if not path.exists():
        raise ServerStartError(f"gunicorn not found at {path}; run `make test` to install it")
    return path


def supports_option(executable, option):
    """True when `executable --help` lists `option` (flags differ between versions)."""
    completed = subprocess.run(
        [str(executable), "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    return option in completed.stdout


def get_status(url, timeout=REQUEST_TIMEOUT_S):
    """The status code of one GET to `url` (raises OSError when nothing answers)."""
    return request_status(url, timeout=timeout)


def request_status(url, *, method="GET", body=None, headers=None, timeout=REQUEST_TIMEOUT_S):
    """The status code of one request to `url` (raises OSError when nothing answers)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path or "/", body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class GunicornServer:
    """A gunicorn arbiter with sync (or gthread) workers on a free loopback port.

    Use it as a context manager: leaving the block stops the server whatever happened
    inside it, including Ctrl-C.
    """

    def __init__(self, app, *, workers=2, threads=1, env=None, pythonpath=None, cwd=None):
        self.app = app
        self.workers = workers
        # More than one thread: gunicorn's gthread workers, each serving `threads`
        # requests at once (one can wait for the disk while another computes).
        self.threads = threads
        self.env = env
        self.pythonpath = pythonpath
        self.cwd = cwd
        self.port = None
        self.process = None
        self.log = None

    @property
    def base_url(self):
        """Scheme, host and port, without a trailing slash."""
        return f"http://{LOOPBACK}:{self.port}"

    def command(self):
        """The gunicorn command line."""
        executable = gunicorn_executable()
        command = [
            str(executable),
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync" if self.threads == 1 else "gthread",
            "--threads",
            str(self.threads),
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        # Newer gunicorn opens a control socket under ~/.gunicorn; a bench needs none.
        if supports_option(executable, "--no-control-socket"):
            command.append("--no-control-socket")
        if self.pythonpath:
            command += ["--pythonpath", str(self.pythonpath)]
        return command + [self.app]

    def start(self, ready_path="/", timeout=30):
        """Start gunicorn and wait until `ready_path` answers with any HTTP status."""
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        # A session of its own: Ctrl-C reaches only us, and `stop` shuts it down in order.
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"gunicorn exited with {self.process.returncode}")
            try:
                get_status(self.base_url + ready_path, timeout=2)
                return self
            except OSError:
                time.sleep(0.1)
        raise ServerStartError(f"gunicorn did not answer within {timeout} s")

    def log_tail(self, lines=30):
        """The last lines gunicorn wrote, for error messages."""
        if self.log is None:
            return ""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        """Ask gunicorn to shut down gracefully, kill its process group if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # The arbiter leads its own group, so this reaches only its workers.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_S)
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


@contextmanager
def migrated_app(prefix):
    """A throwaway instance folder (named from `prefix`), the app on it and a connection
    to its migrated database: (app, db); closed and removed at the end."""
    from weprode import create_app
    from weprode.db import connect
    from weprode.migrations import apply_pending

    with tempfile.TemporaryDirectory(prefix=prefix) as instance_path:
        app = create_app({"TESTING": True}, instance_path=instance_path)
        db = connect(app.config["DATABASE"])
        try:
            apply_pending(db)
            yield app, db
        finally:
            db.close()


def bench_app_server(env, threads=1):
    """gunicorn serving benchapp (the production app plus the hello route) from the
    project folder, with `threads` per worker (above 1: gthread workers)."""
    return GunicornServer(
        "benchapp:create_bench_app()",
        threads=threads,
        env=env,
        pythonpath=Path(__file__).resolve().parent,
        cwd=PROJECT_ROOT,
    )


def start_or_report(server, ready_path):
    """Start `server`; False, with why and its log on stderr, when it would not start."""
    try:
        server.start(ready_path=ready_path)
    except ServerStartError as error:
        print(f"server failed to start: {error}\n{server.log_tail()}", file=sys.stderr)
        return False
    return True


def have_wrk():
    """True when wrk is installed."""
    return shutil.which("wrk") is not None


TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk_time(value, unit):
    """A wrk duration such as `4.21ms` in milliseconds."""
    return float(value) * TIME_UNITS_MS[unit]


def parse_wrk_output(text):
    """Requests, req/s, p50/p99 and error counts from wrk's report (`--latency`)."""
    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not (requests and rate):
        raise ValueError(f"unexpected wrk output:\n{text}")
    percentiles = {
        int(match[1]): parse_wrk_time(match[2], match[3])
        for match in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
    }
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return LoadResult(
        tool="wrk",
        requests=int(requests[1]),
        seconds=parse_wrk_time(requests[2], requests[3]) / 1000,
        requests_per_second=float(rate[1]),
        p50_ms=percentiles.get(50),
        p99_ms=percentiles.get(99),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        output=text,
    )


def run_wrk(url, *, duration, connections, threads, script=None, script_args=()):
    """Load `url` with wrk for `duration` seconds; `script` is a Lua file (e.g. to POST).

    wrk counts 3xx as successes; callers that care check one response's status first.
    """
    command = [
        "wrk",
        "--latency",
        "--duration",
        f"{max(1, round(duration))}s",
        "--connections",
        str(connections),
        "--threads",
        str(min(threads, connections)),
        "--timeout",
        f"{REQUEST_TIMEOUT_S}s",
    ]
    if script:
        command += ["--script", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout)


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run_python(url, *, duration, connections, method="GET", body=None, headers=None, paths=None):
    """Load `url` from `connections` threads with keep-alive http.client connections.

    The fallback when wrk is missing. The GIL makes it the bottleneck well before a
    fast server is, so its absolute req/s is low; compare ratios, not numbers.
    With `paths`, connection k requests paths k, k + connections, ... in turn (no two
    connections share a path) and starts its share again when it runs out.
    """
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if paths is not None and len(paths) < connections:
        raise ValueError(f"{len(paths)} paths cannot give each of {connections} connections one")
    shares = [paths[k::connections] if paths else [target] for k in range(connections)]
    headers = dict(headers or {})
    lock = threading.Lock()
    latencies, counts = [], {"non_2xx": 0, "errors": 0, "sent": 0, "distinct": 0}
    start = time.monotonic()
    deadline = start + duration

    def worker(share):
        """Send requests back to back until the deadline, reconnecting after errors."""
        own_latencies, non_2xx, errors, sent = [], 0, 0, 0
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=REQUEST_TIMEOUT_S)
        try:
            while time.monotonic() < deadline:
                path = share[sent % len(share)]
                sent += 1
                began = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    errors += 1
                    conn.close()
                    continue
                own_latencies.append((time.perf_counter() - began) * 1000)
                if not 200 <= response.status < 300:
                    non_2xx += 1
        finally:
            conn.close()
        with lock:
            latencies.extend(own_latencies)
            counts["non_2xx"] += non_2xx
            counts["errors"] += errors
            counts["sent"] += sent
            counts["distinct"] += min(sent, len(share))

    workers = [threading.Thread(target=worker, args=(share,), daemon=True) for share in shares]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=duration + REQUEST_TIMEOUT_S + 5)
    elapsed = time.monotonic() - start
    with lock:
        latencies.sort()
        return LoadResult(
            tool="python",
            requests=len(latencies),
            seconds=elapsed,
            requests_per_second=len(latencies) / elapsed if elapsed else 0.0,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            non_2xx=counts["non_2xx"],
            errors=counts["errors"],
            paths_sent=counts["sent"] if paths else None,
            distinct_paths=counts["distinct"] if paths else None,
        )


class SinkUnavailable(RuntimeError):
    """smtp-sink is not installed and could not be fetched (no apt-get, no network)."""


SINK_CACHE = Path.home() / ".cache" / "weprode-bench" / "postfix"


def smtp_sink_command(cache=SINK_CACHE):
    """(command prefix, environment) to run Postfix's `smtp-sink`, fetching it once.

    An installed `smtp-sink` is used as is. Otherwise Debian's postfix package is
    downloaded with `apt-get download` into `cache` and unpacked there with `dpkg -x`:
    the binary runs from that folder and no mail service is installed or started.
    """
    installed = shutil.which("smtp-sink")
    if installed:
        return [installed], None
    root = Path(cache) / "pf"
    binary = root / "usr" / "sbin" / "smtp-sink"
    if not binary.exists():
        if not (shutil.which("apt-get") and shutil.which("dpkg")):
            raise SinkUnavailable("smtp-sink is missing and apt-get/dpkg are not available")
        Path(cache).mkdir(parents=True, exist_ok=True)
        for package in Path(cache).glob("postfix_*.deb"):
            package.unlink()
        fetched = subprocess.run(
            ["apt-get", "download", "postfix"],
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        packages = sorted(Path(cache).glob("postfix_*.deb"))
        if fetched.returncode != 0 or not packages:
            raise SinkUnavailable(f"apt-get download postfix failed: {fetched.stderr.strip()}")
        subprocess.run(["dpkg", "-x", str(packages[-1]), str(root)], timeout=120, check=True)
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr" / "lib" / "postfix")}
    return [str(binary)], env


class SmtpSink:
    """Postfix's `smtp-sink` on a free loopback port: accepts and discards every message.

    With `dump`, each message is also written to its own file under `dump_dir` (`-d`),
    a temporary folder (in /dev/shm when there is one) removed by `stop`. The dump
    uses LF line ends whatever the client sent, so it cannot show bare LFs. Use it as
    a context manager: leaving the block stops the sink (terminate, then kill).
    """

    def __init__(self, dump=False, backlog=1024):
        self.dump = dump
        self.dump_dir = None
        self.backlog = backlog
        self.port = None
        self.process = None
        self.log = None

    def command(self):
        """The smtp-sink command line and its environment."""
        prefix, env = smtp_sink_command()
        command = list(prefix)
        # smtp-sink refuses to keep root privileges; -u is only allowed for root.
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        if self.dump_dir is not None:
            # One folder per second keeps the random 32-bit file names from colliding.
            command += ["-d", f"{self.dump_dir}/%H%M%S/"]
        return command + [f"{LOOPBACK}:{self.port}", str(self.backlog)], env

    def start(self, timeout=10):
        """Start the sink and wait until it accepts connections."""
        if self.dump:
            # In memory when we can: dumping to disk made the sink 3x slower (a file per
            # message), so it would measure the disk, not the sender. A folder of its own
            # because the sink writes as `nobody` once it drops root.
            shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
            self.dump_dir = Path(tempfile.mkdtemp(prefix="weprode-smtp-sink-", dir=shm))
            self.dump_dir.chmod(0o777)
        self.port = free_port()
        command, env = self.command()
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"smtp-sink exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise ServerStartError(f"smtp-sink did not answer within {timeout} s")

    def alive(self):
        """True while the sink process runs."""
        return self.process is not None and self.process.poll() is None

    def dumped_files(self):
        """Every message file the sink wrote so far."""
        if self.dump_dir is None:
            return []
        return [path for path in self.dump_dir.rglob("*") if path.is_file()]

    def log_tail(self, lines=20):
        """The last lines the sink wrote, for error messages."""
        if self.log is None:
            return ""
        self.log.flush()
        self.log.seek(0)
        return "\n".join(self.log.read().decode("utf-8", "replace").splitlines()[-lines:])

    def stop(self):
        """Terminate the sink, kill it if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.dump_dir is not None:
            shutil.rmtree(self.dump_dir, ignore_errors=True)
            self.dump_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def vm_rss_mb():
    """This process's resident memory right now (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
