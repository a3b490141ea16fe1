"""Re-test only the survivors of a module's latest run, with today's tests.

After adding tests against survivors, a whole run (tens of minutes for some modules)
would test again the hundreds of mutants already killed. This re-tests the survivors
alone, each with the module's TARGETS files in a fresh pytest: mutmut's mutants in
their run's copy (selected by MUTANT_UNDER_TEST, whose tests are refreshed from the
working tree first), the extra pass's in new scratch copies. The verdicts replace
those in the saved results, whose stamp then says when survivors were re-tested.

The module's own code must be the one the run mutated: a pass whose module changed since
is not re-tested (it needs a run), and the output says so.
"""

import dataclasses
import os
import shutil
from datetime import UTC, datetime

from . import extra, mutmut_pass, report, runner
from .targets import JOBS, ROOT, TARGETS, WORK

ALIVE = ("survived", "no tests", "other")


def alive(results):
    """The results still alive and not accepted as equivalent (equivalent.txt)."""
    probe = [dataclasses.replace(result) for result in results]
    report.assign_ids(probe)
    report.apply_equivalents(probe, report.load_equivalents())
    return [r for r, p in zip(results, probe, strict=True) if p.status in ALIVE]


def refresh_tests(directory):
    """Copy the working tree's tests over those of a copy (helpers and new files too)."""
    shutil.copytree(ROOT / "tests", directory / "tests", dirs_exist_ok=True)


def retest_mutmut(path, results):
    """Re-test `path`'s surviving mutmut mutants in the copy of the run that made them."""
    todo = alive(results)
    if not todo:
        return 0
    [(stage, _, _)] = mutmut_pass.mutmut_groups([path])
    directory = stage / "mutants"
    mutated = (directory / path).read_text() if (directory / path).exists() else ""
    if (stage / path).read_bytes() != (ROOT / path).read_bytes() or any(
        result.name.rpartition(".")[2] not in mutated for result in todo
    ):
        print(f"mutmut: {path} changed since its mutmut run (or {stage} was reused): not re-tested")
        return 0
    refresh_tests(directory)
    tests = TARGETS[path]

    def environment(name):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["MUTANT_UNDER_TEST"] = name
        return env

    status, seconds = runner.run_tests(directory, tests, 600, environment(""))
    if status != "survived":
        raise SystemExit(f"{path}: the tests fail in {directory} without any mutant")
    timeout = max(60, 3 * seconds + 30)

    def one(result):
        result.status, _ = runner.run_tests(directory, tests, timeout, environment(result.name))
        print(f"  {result.status:8} {path}:{result.line} {result.before} -> {result.after}")

    runner.parallel(one, todo, JOBS)
    return len(todo)


def retest_extra(path, results, files):
    """Re-test `path`'s surviving extra mutants in fresh scratch copies."""
    source = (ROOT / path).read_text()
    todo = {(r.line, r.description, r.before, r.after): r for r in alive(results)}
    if not todo:
        return 0
    mutants = []
    for mutant in extra.generate(path, source):
        key = (mutant.line, mutant.description, *mutant.lines_changed(source))
        if key in todo:
            mutants.append((mutant, todo.pop(key)))
    if todo:
        raise SystemExit(f"{path} changed since its extra run: run it again instead")
    copies = [WORK / f"extra-{n}" for n in range(JOBS)]
    for copy in copies:
        runner.make_copy(files, ROOT, copy)
    _, seconds = runner.run_tests(copies[0], TARGETS[path], timeout=600)
    outcomes = runner.run_mutants(
        copies, path, TARGETS[path], [m for m, _ in mutants], max(60, 3 * seconds + 30)
    )
    for outcome, (_, result) in zip(outcomes, mutants, strict=True):
        result.status = outcome.status
    return len(mutants)


def retest(modules, saved, files, commit):
    """Re-test each module's survivors of both passes and save the new verdicts."""
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC at `{commit}`"
    for path in modules:
        for tool, run in (("mutmut", retest_mutmut), ("extra", retest_extra)):
            results, stamps = report.load_saved(saved, [path], [tool])
            if (path, tool) not in stamps:
                print(f"{path}: no saved {tool} run to re-test")
                continue
            print(f"{tool}: re-testing the survivors of {path}", flush=True)
            count = run(path, results, files) if tool == "extra" else run(path, results)
            if count:  # the stamp says so only when something was re-tested
                stamp = {**stamps[path, tool], "retested": when}
                report.save(results, saved, [path], [tool], stamp)
