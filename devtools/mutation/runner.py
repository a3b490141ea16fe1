"""Testing mutants: scratch copies of the project, one fresh pytest per mutant.

Each mutant is written into a scratch copy (never the working tree), the module's
test files run there in a fresh `python -m pytest -x` process with a timeout, and the
copy's file is restored in a `finally`. Killed means the tests failed or timed out.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

from .source import Mutant


@dataclass
class Outcome:
    """What the tests did with one mutant."""

    mutant: Mutant
    status: str  # killed, survived, timeout
    seconds: float


def module_name(path):
    """weprode/campaigns/ledger.py -> weprode.campaigns.ledger"""
    return str(Path(path).with_suffix("")).replace(os.sep, ".")


def test_environment(copy):
    """Environment for tests in a scratch copy: its code first, no stale bytecode."""
    env = {k: v for k, v in os.environ.items() if k not in ("MUTANT_UNDER_TEST", "PYTHONPATH")}
    env["PYTHONPATH"] = str(copy)
    # Mutants of equal length written within one second would otherwise reuse the
    # previous mutant's .pyc (its check is mtime in seconds plus size).
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


RUNNING = set()  # the pytest processes under way, so Ctrl-C can end them all
RUNNING_LOCK = threading.Lock()


def parallel(function, items, workers):
    """`[function(item) for item in items]` in `workers` threads, stoppable by Ctrl-C.

    Each test run has its own session (so a timeout can end its children), which also
    shields it from the terminal's Ctrl-C: on an interrupt, cancel what has not started,
    end the runs under way, and wait for the threads to restore their files.
    """
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(function, item) for item in items]
    try:
        return [future.result() for future in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        with RUNNING_LOCK:
            for process in RUNNING:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # ended on its own meanwhile
        pool.shutdown(wait=True)
        raise


def run_tests(copy, tests, timeout, env=None):
    """Run `tests` in `copy` in a fresh pytest; returns (status, seconds).

    The run gets its own process group, so a timeout also ends the processes the tests
    started (the campaign crash test's `flask campaigns send`).
    """
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=env or test_environment(copy),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with RUNNING_LOCK:
        RUNNING.add(process)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "timeout", time.monotonic() - started
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        with RUNNING_LOCK:
            RUNNING.discard(process)
    return ("survived" if code == 0 else "killed"), time.monotonic() - started


def check_copy_is_imported(copy, path):
    """Fail unless the tests in `copy` would import the module from the copy.

    The project is installed in editable mode, which maps `weprode` to the working
    tree; the copy must win, or every mutant would silently survive.
    """
    code = (
        f"import importlib.util, sys; print(importlib.util.find_spec({module_name(path)!r}).origin)"
    )
    origin = subprocess.run(
        [sys.executable, "-c", code],
        cwd=copy,
        env=test_environment(copy),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if Path(origin).resolve() != (Path(copy) / path).resolve():
        raise RuntimeError(f"tests in {copy} import {path} from {origin}, not from the copy")


def run_mutants(copies, path, tests, mutants, timeout, progress=print):
    """Test each mutant of `path` in one of `copies` (one worker per copy).

    Before the mutants, two checks per copy: the clean module passes, and a planted
    bug (the module raising at import) is caught. Returns the outcomes in order.
    """
    original = (Path(copies[0]) / path).read_text()
    for copy in copies:
        check_copy_is_imported(copy, path)
    status, _ = run_tests(copies[0], tests, timeout)
    if status != "survived":
        raise RuntimeError(f"{path}: the tests fail (or hang) without any mutant")
    planted = Mutant(path, "<module>", "canary", (1, 0), (1, 0), "raise RuntimeError()\n", "")
    if run_with(copies[0], path, original, planted, tests, timeout)[0] != "killed":
        raise RuntimeError(f"{path}: a planted bug was not caught; the copy is not under test")

    free = Queue()
    for copy in copies:
        free.put(copy)

    def one(mutant):
        copy = free.get()
        try:
            status, seconds = run_with(copy, path, original, mutant, tests, timeout)
        finally:
            free.put(copy)
        progress(f"  {status:8} {path}:{mutant.line} {mutant.description}")
        return Outcome(mutant, status, seconds)

    return parallel(one, mutants, len(copies))


def run_with(copy, path, original, mutant, tests, timeout):
    """Write one mutant into the copy, run the tests, always restore the file."""
    target = Path(copy) / path
    try:
        target.write_text(mutant.apply(original))
        return run_tests(copy, tests, timeout)
    finally:
        target.write_text(original)


def make_copy(files, root, destination):
    """Copy the project's files (a list of relative paths) into `destination`."""
    shutil.rmtree(destination, ignore_errors=True)
    for name in files:
        source = Path(root) / name
        if not source.is_file():
            continue
        target = Path(destination) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
