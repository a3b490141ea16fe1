"""Where one-click requests waited, phase by phase: counts that do not move with load.

wrk's percentiles say how late the answers were, and on a shared machine they mostly
say how busy the machine was. These say where the time went, from the lines every
process writes when WEPRODE_WRITE_TIMINGS names a file (`weprode.write_timings`):
how long each one-click write waited for the write lock and for its flush, how many
one-click writes got in per transaction of the background job, how long the job held
the lock; and, from /proc, the CPU time the web workers spent per request.
"""

import os
from dataclasses import dataclass, field

from weprode import write_timings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WAIT_BOUNDS_MS = (1, 5, 10, 25, 50, 100)


@dataclass
class Phase:
    """A stretch of the run: its name, its monotonic start and end, the background pid."""

    name: str
    began: float
    ended: float = 0.0
    background_pid: int | None = None
    cpu_seconds: float = 0.0  # of the web workers during the phase
    requests: int = 0


@dataclass
class PhaseWaits:
    """What the timings say about one phase."""

    phase: Phase
    one_click: list = field(default_factory=list)
    background: list = field(default_factory=list)


def workers_cpu_seconds(arbiter_pid):
    """User + system CPU seconds of the arbiter's children (the web workers) so far."""
    total = 0
    children = f"/proc/{arbiter_pid}/task/{arbiter_pid}/children"
    with open(children, encoding="ascii") as listing:
        pids = listing.read().split()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a worker that just exited
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def split_by_phase(path, phases, web_pids):
    """The timings of `path` sorted into `phases`: one-click writes and the job's."""
    results = [PhaseWaits(phase) for phase in phases]
    for timing in write_timings.read(path):
        for result in results:
            phase = result.phase
            if not phase.began <= timing.started <= phase.ended:
                continue
            if timing.pid in web_pids and timing.kind == "durable":
                result.one_click.append(timing)
            elif timing.pid == phase.background_pid:
                result.background.append(timing)
    return results


def percentile_ms(values, fraction):
    """The `fraction` percentile of seconds, in ms (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def print_summary(results):
    """One block per phase: lock waits, flushes, the job's holds, CPU per request."""
    print("\nWhere one-click writes waited (write timings; same run, independent of load):")
    print(
        f"{'phase':<10} {'writes':>7} {'lock p50':>9} {'lock p99':>9} {'lock max':>9} "
        f"{'flush p99':>10} {'held p99':>9} {'commit max':>11} "
        + " ".join(f"{'>' + str(b) + 'ms':>7}" for b in WAIT_BOUNDS_MS)
    )
    for result in results:
        waits = [t.lock_wait for t in result.one_click]
        print(
            f"{result.phase.name:<10} {len(waits):>7} {percentile_ms(waits, 0.5):>9.2f} "
            f"{percentile_ms(waits, 0.99):>9.2f} {percentile_ms(waits, 1.0):>9.2f} "
            f"{percentile_ms([t.synced for t in result.one_click], 0.99):>10.2f} "
            f"{percentile_ms([t.held for t in result.one_click], 0.99):>9.2f} "
            f"{percentile_ms([t.committing for t in result.one_click], 1.0):>11.2f} "
            + " ".join(f"{sum(w * 1000 > b for w in waits):>7}" for b in WAIT_BOUNDS_MS)
        )
    print(
        f"{'phase':<10} {'job writes':>11} {'held p50':>9} {'held p99':>9} {'held max':>9} "
        f"{'commit max':>11} "
        f"{'paused s':>9} {'one-click/job write':>20} {'worker CPU ms/req':>18}"
    )
    for result in results:
        job = result.background
        phase = result.phase
        per_request = phase.cpu_seconds * 1000 / phase.requests if phase.requests else 0.0
        ratio = f"{len(result.one_click) / len(job):.1f}" if job else "-"
        print(
            f"{phase.name:<10} {len(job):>11} {percentile_ms([t.held for t in job], 0.5):>9.2f} "
            f"{percentile_ms([t.held for t in job], 0.99):>9.2f} "
            f"{percentile_ms([t.held for t in job], 1.0):>9.2f} "
            f"{percentile_ms([t.committing for t in job], 1.0):>11.2f} "
            f"{sum(t.gave_way for t in job):>9.2f} {ratio:>20} {per_request:>18.3f}"
        )
