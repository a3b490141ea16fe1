"""The supplemental mutator: what mutmut 3 cannot reach.

mutmut 3 mutates function bodies only, through trampolines, and skips decorated
functions. The promises this project keeps also live in

- SQL text: `AND`/`OR`, comparisons, `IS [NOT] NULL`, `NOT`, `IN`, `ASC`/`DESC`,
  `+`/`-` and numbers inside the string literals handed to SQLite;
- module-level (and class-level) constants: retention periods, salts, CSP and header
  strings, tuples of safe methods, numbers;
- decorators (`@dataclass(frozen=True)`, `@lru_cache`, `@property`), and the bodies of
  the decorated functions mutmut leaves alone.

Each mutant is one text edit of the original source. It is written into a scratch
copy of the project (never the working tree), the module's test files run there in a
fresh `python -m pytest -x` process with a timeout, and the copy's file is restored
in a `finally`. Killed means the tests failed or timed out.

`python -m devtools.mutation.extra weprode/tokens.py` lists a module's mutants.
"""

import ast
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import tokenize
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

# Calls whose string arguments are display text (translated), not behaviour.
TEXT_CALLS = {"_", "_l", "gettext", "lazy_gettext", "ngettext"}

# A string is taken for SQL when it has an upper-case keyword or compares a column.
SQL_KEYWORDS = re.compile(
    r"\b(SELECT|UPDATE|DELETE|INSERT|WHERE|FROM|AND|OR|NOT|NULL|IN|ORDER BY|GROUP BY|SET|"
    r"JOIN|LIMIT|RETURNING|VALUES)\b"
)
SQL_COMPARISON = re.compile(r"^\s*[a-z_][\w.]*\s*(=|!=|<>|<=|>=|<|>)\s*('|\?|NULL\b|\d)")
CLAUSE_KEYWORDS = re.compile(
    r"\b(SET|WHERE|ON|RETURNING|FROM|HAVING|ORDER|GROUP|LIMIT|SELECT|VALUES)\b"
)
COMPARISON_SWAPS = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "=": "!=",
    "==": "!=",
    "!=": "=",
    "<>": "=",
}
PYTHON_COMPARE_SWAPS = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.In: "not in",
    ast.NotIn: "in",
    ast.Is: "is not",
    ast.IsNot: "is",
}


@dataclass(frozen=True)
class Mutant:
    """One text edit of a source file: replace [start, end) by `replacement`.

    Positions are (line, column) with 1-based lines and 0-based character columns.
    """

    path: str
    scope: str
    kind: str
    start: tuple
    end: tuple
    replacement: str
    description: str

    @property
    def line(self):
        """The line the edit starts on."""
        return self.start[0]

    def apply(self, source):
        """The mutated source text."""
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        begin = offsets[self.start[0] - 1] + self.start[1]
        finish = offsets[self.end[0] - 1] + self.end[1]
        return source[:begin] + self.replacement + source[finish:]

    def lines_changed(self, source):
        """(original line, mutated line), stripped, for ids and the report."""
        before = source.splitlines()[self.start[0] - 1].strip()
        after = self.apply(source).splitlines()[self.start[0] - 1].strip()
        return before, after


class Positions:
    """Converts the AST's UTF-8 byte columns into character columns."""

    def __init__(self, source):
        self.lines = source.splitlines(keepends=True)

    def char(self, line, byte_col):
        """The character column of a byte column on a 1-based line."""
        return len(self.lines[line - 1].encode()[:byte_col].decode())

    def span(self, node):
        """A node's (start, end) in character columns."""
        start = (node.lineno, self.char(node.lineno, node.col_offset))
        end = (node.end_lineno, self.char(node.end_lineno, node.end_col_offset))
        return start, end

    def text(self, start, end):
        """The source between two positions."""
        if start[0] == end[0]:
            return self.lines[start[0] - 1][start[1] : end[1]]
        parts = [self.lines[start[0] - 1][start[1] :]]
        parts += self.lines[start[0] : end[0] - 1]
        parts.append(self.lines[end[0] - 1][: end[1]])
        return "".join(parts)


def parents_of(tree):
    """Map each node to its parent, so a string knows where it sits."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def scopes_of(tree):
    """Map each node to the qualified name of the function or class around it."""
    scopes = {}

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{scope}.{child.name}" if scope != "<module>" else child.name
                # A function's decorators belong to the scope that defines it.
                for decorator in child.decorator_list:
                    scopes[decorator] = scope
                    for sub in ast.walk(decorator):
                        scopes[sub] = scope
            scopes.setdefault(child, inner if child is not node else scope)
            visit(child, inner)

    visit(tree, "<module>")
    return scopes


def is_docstring(node, parents):
    """True for the string statement that opens a module, class or function."""
    statement = parents.get(node)
    if not isinstance(statement, ast.Expr):
        return False
    owner = parents.get(statement)
    body = getattr(owner, "body", None)
    return bool(body) and body[0] is statement


def inside_text_call(node, parents):
    """True when the node is an argument of `_l(...)` and friends."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in TEXT_CALLS:
                return True
    return False


def is_sql(text):
    """Whether a string literal looks like SQL (or a SQL condition fragment)."""
    return bool(SQL_KEYWORDS.search(text) or SQL_COMPARISON.search(text))


def mask(body):
    """Blank out quoted SQL literals and f-string fields, keeping lengths.

    Operators are searched in the masked text, so `'a=b'` in a value or `{x}` in an
    f-string field is never mutated.
    """
    masked = re.sub(r"'[^']*'", lambda m: "'" + "_" * (len(m.group()) - 2) + "'", body)
    return re.sub(r"\{[^{}]*\}", lambda m: "_" * len(m.group()), masked)


def string_token_body(token_text):
    """(offset of the body, body) of a STRING token: its text without prefix and quotes."""
    prefix_len = len(token_text) - len(token_text.lstrip("rRbBuUfF"))
    quote = token_text[prefix_len : prefix_len + 3]
    width = 3 if quote in ('"""', "'''") else 1
    start = prefix_len + width
    return start, token_text[start:-width]


def sql_edits(masked, state):
    """(start, end, replacement, label) edits for one SQL text, in masked coordinates.

    `state` carries the last clause keyword across the pieces of an implicitly
    concatenated string, so `SET a = ?` is seen as an assignment, not a comparison.
    """
    edits = []
    clause = state.get("clause")
    events = []
    for match in CLAUSE_KEYWORDS.finditer(masked):
        events.append((match.start(), "clause", match))
    for match in re.finditer(r"<=|>=|!=|<>|==|<|>|=", masked):
        events.append((match.start(), "op", match))
    for _, what, match in sorted(events, key=lambda event: event[0]):
        if what == "clause":
            clause = match.group()
            continue
        op = match.group()
        before = state.get("tail", "") + masked[: match.start()]
        if op == "=" and clause == "SET" and re.search(r"(\bSET|,)\s*[\w.]+\s*$", before):
            continue  # an assignment in an UPDATE, not a comparison
        if masked[match.end() : match.end() + 1] == ">" or before.endswith("-"):
            continue  # JSON arrows -> and ->>
        swap = COMPARISON_SWAPS[op]
        edits.append((match.start(), match.end(), swap, f"{op} -> {swap}"))
    state["clause"] = clause
    state["tail"] = state.get("tail", "") + masked
    for match in re.finditer(r"\bAND\b", masked):
        edits.append((match.start(), match.end(), "OR", "AND -> OR"))
    for match in re.finditer(r"\bOR\b(?!\s+(IGNORE|REPLACE|ABORT|FAIL|ROLLBACK)\b)", masked):
        edits.append((match.start(), match.end(), "AND", "OR -> AND"))
    for match in re.finditer(r"\bIS\s+NOT\s+NULL\b", masked):
        edits.append((match.start(), match.end(), "IS NULL", "IS NOT NULL -> IS NULL"))
    for match in re.finditer(r"\bIS\s+NULL\b", masked):
        edits.append((match.start(), match.end(), "IS NOT NULL", "IS NULL -> IS NOT NULL"))
    for match in re.finditer(r"(?<!\bIS )\bNOT\s+", masked):
        edits.append((match.start(), match.end(), "", "drop NOT"))
    for match in re.finditer(r"(?<!NOT )\bIN\s*\(", masked):
        edits.append((match.start(), match.start(), "NOT ", "IN -> NOT IN"))
    for match in re.finditer(r"\bASC\b", masked):
        edits.append((match.start(), match.end(), "DESC", "ASC -> DESC"))
    for match in re.finditer(r"\bDESC\b", masked):
        edits.append((match.start(), match.end(), "ASC", "DESC -> ASC"))
    for match in re.finditer(r"\bORDER BY\s+[\w.]+(?!\s*(ASC|DESC|[\w.(]))", masked):
        edits.append((match.end(), match.end(), " DESC", "ORDER BY ... -> ... DESC"))
    for match in re.finditer(r" ([+-]) ", masked):
        other = "-" if match.group(1) == "+" else "+"
        edits.append((match.start(1), match.end(1), other, f"{match.group(1)} -> {other}"))
    for match in re.finditer(r"(?<![\w.])\d+(?![\w.])", masked):
        value = int(match.group())
        edits.append((match.start(), match.end(), str(value + 1), f"{value} -> {value + 1}"))
    for match in re.finditer(r"\b(min|max|MIN|MAX)\(", masked):
        name = match.group(1)
        swapped = {"min": "max", "max": "min", "MIN": "MAX", "MAX": "MIN"}[name]
        edits.append((match.start(1), match.end(1), swapped, f"{name} -> {swapped}"))
    return edits


class Generator:
    """Builds every supplemental mutant of one source file."""

    def __init__(self, path, source):
        self.path = path
        self.source = source
        self.tree = ast.parse(source)
        self.parents = parents_of(self.tree)
        self.scopes = scopes_of(self.tree)
        self.pos = Positions(source)
        self.mutants = []

    def add(self, node_or_scope, kind, start, end, replacement, description):
        """Record one mutant, unless it changes nothing."""
        if self.pos.text(start, end) == replacement:
            return
        scope = node_or_scope if isinstance(node_or_scope, str) else self.scopes.get(node_or_scope)
        self.mutants.append(
            Mutant(self.path, scope or "<module>", kind, start, end, replacement, description)
        )

    def generate(self):
        """All mutants, in source order, without duplicates, each compiling."""
        self.sql()
        self.constants()
        self.decorators()
        self.decorated_bodies()
        unique, seen = [], set()
        for mutant in sorted(self.mutants, key=lambda m: (m.start, m.end, m.replacement)):
            mutated = mutant.apply(self.source)
            if mutated in seen:
                continue
            try:
                if ast.dump(ast.parse(mutated)) == ast.dump(self.tree):
                    continue  # e.g. an edit inside a comment-like string
            except SyntaxError:
                continue
            seen.add(mutated)
            unique.append(mutant)
        return unique

    # SQL operators -------------------------------------------------------------

    def sql(self):
        """Operators inside every SQL string literal (not docstrings, not texts)."""
        tokens = [
            token
            for token in tokenize.generate_tokens(io.StringIO(self.source).readline)
            if token.type == tokenize.STRING
        ]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.JoinedStr):
                value = "".join(
                    part.value for part in node.values if isinstance(part, ast.Constant)
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if isinstance(self.parents.get(node), ast.JoinedStr | ast.FormattedValue):
                    continue
                value = node.value
            else:
                continue
            if not is_sql(value) or is_docstring(node, self.parents):
                continue
            if inside_text_call(node, self.parents):
                continue
            start, end = self.pos.span(node)
            state = {}
            for token in tokens:
                if token.start < start or token.end > end:
                    continue
                if token.start[0] != token.end[0]:
                    continue  # triple-quoted multi-line SQL: none in the targets
                offset, body = string_token_body(token.string)
                line, column = token.start
                for begin, finish, replacement, label in sql_edits(mask(body), state):
                    self.add(
                        node,
                        "sql",
                        (line, column + offset + begin),
                        (line, column + offset + finish),
                        replacement,
                        f"SQL {label}",
                    )

    # Module and class constants ----------------------------------------------

    def constant_statements(self):
        """Assignments at module level and in class bodies (mutmut never sees them)."""
        bodies = [self.tree.body]
        bodies += [node.body for node in ast.walk(self.tree) if isinstance(node, ast.ClassDef)]
        for body in bodies:
            for statement in body:
                if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value:
                    yield statement

    def constants(self):
        """Numbers +-1, booleans flipped, strings changed, collection items dropped."""
        named_strings = {}
        for statement in self.constant_statements():
            targets = getattr(statement, "targets", None) or [statement.target]
            if (
                len(targets) == 1
                and isinstance(targets[0], ast.Name)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str | bytes)
            ):
                named_strings[targets[0].id] = statement.value
        for statement in self.constant_statements():
            targets = getattr(statement, "targets", None) or [statement.target]
            name = targets[0].id if isinstance(targets[0], ast.Name) else None
            self.expression_constants(statement.value, "constant")
            if name in named_strings:
                self.collapse_string(name, named_strings)

    def collapse_string(self, name, named_strings):
        """Give a constant the value of a sibling (CONFIRM_SALT = UNSUBSCRIBE_SALT's value)."""
        suffix = name.rsplit("_", 1)[-1]
        node = named_strings[name]
        for other, other_node in named_strings.items():
            if other == name or other.rsplit("_", 1)[-1] != suffix:
                continue
            if type(other_node.value) is not type(node.value):
                continue
            start, end = self.pos.span(node)
            label = f"{name} = {other}'s value"
            self.add(node, "constant", start, end, repr(other_node.value), label)

    def expression_constants(self, expression, kind):
        """Mutate the literals of one expression (not inside lambdas or text calls)."""
        for node in ast.walk(expression):
            if isinstance(node, ast.Lambda) or inside_text_call(node, self.parents):
                continue
            if any(isinstance(parent, ast.Lambda) for parent in self.ancestors(node, expression)):
                continue
            start, end = self.pos.span(node) if hasattr(node, "lineno") else (None, None)
            if isinstance(node, ast.Constant):
                self.literal(node, kind, start, end)
            elif isinstance(node, ast.Tuple | ast.List | ast.Set):
                self.drop_items(node, kind, node.elts)
            elif isinstance(node, ast.Dict) and None not in node.keys:
                self.drop_items(node, kind, node.keys, node.values)

    def ancestors(self, node, stop):
        """The parents of a node up to (not including) `stop`."""
        while node in self.parents and node is not stop:
            node = self.parents[node]
            yield node

    def literal(self, node, kind, start, end):
        """The mutations of one literal value."""
        value = node.value
        if isinstance(self.parents.get(node), ast.JoinedStr | ast.FormattedValue):
            return
        if isinstance(value, bool):
            self.add(node, kind, start, end, repr(not value), f"{value} -> {not value}")
        elif isinstance(value, int):
            for other in (value + 1, value - 1):
                self.add(node, kind, start, end, repr(other), f"{value} -> {other}")
        elif isinstance(value, float):
            self.add(node, kind, start, end, repr(value + 1), f"{value} -> {value + 1}")
        elif isinstance(value, str | bytes) and not (isinstance(value, str) and is_sql(value)):
            separator = "; " if "; " in str(value) else ", " if ", " in str(value) else None
            parts = value.split(separator) if separator and isinstance(value, str) else []
            if len(parts) > 1 and all(parts):
                for index, part in enumerate(parts):
                    kept = separator.join(parts[:index] + parts[index + 1 :])
                    self.add(node, kind, start, end, repr(kept), f"drop {part!r}")
            else:
                marks = b"XX" if isinstance(value, bytes) else "XX"
                marked = marks + value + marks
                # One change of value is enough: "" or another text would fail the same tests.
                self.add(node, kind, start, end, repr(marked), f"{value!r} -> {marked!r}")

    def drop_items(self, node, kind, items, values=None):
        """Drop each item of a tuple, list, set or dict literal, one at a time."""
        if not items:
            return
        node_start, node_end = self.pos.span(node)
        if len(items) == 1:
            empty = {ast.Tuple: "()", ast.List: "[]", ast.Set: "set()", ast.Dict: "{}"}
            text = self.pos.text(*self.pos.span(items[0]))
            self.add(node, kind, node_start, node_end, empty[type(node)], f"drop {text}")
            return
        ends = [self.pos.span(value)[1] for value in (values or items)]
        starts = [self.pos.span(item)[0] for item in items]
        for index, item in enumerate(items):
            text = self.pos.text(starts[index], ends[index])
            if index + 1 < len(items):
                start, end = starts[index], starts[index + 1]
            else:
                start, end = ends[index - 1], ends[index]
            self.add(item, kind, start, end, "", f"drop {' '.join(text.split())[:60]}")

    # Decorators ----------------------------------------------------------------

    def decorators(self):
        """Remove each decorator; mutate the literals of decorator arguments."""
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                start, end = self.pos.span(decorator)
                line = self.pos.lines[start[0] - 1]
                at = line.rindex("@", 0, start[1])
                text = self.pos.text(start, end)
                # Remove `@decorator` and its line break, keeping the lines of the rest.
                self.add(
                    decorator,
                    "decorator",
                    (start[0], at),
                    (end[0] + 1, 0),
                    "\n" * (end[0] - start[0] + 1),
                    f"remove @{text}",
                )
                for argument in ast.walk(decorator):
                    if isinstance(argument, ast.Constant) and not isinstance(argument.value, str):
                        self.literal(argument, "decorator", *self.pos.span(argument))

    def decorated_bodies(self):
        """A few operators in the functions mutmut skips because they are decorated."""
        for function in ast.walk(self.tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not function.decorator_list or self.only_static_or_class(function):
                continue
            for statement in function.body:
                for node in ast.walk(statement):
                    self.body_operator(node)

    @staticmethod
    def only_static_or_class(function):
        """mutmut handles functions whose only decorator is @staticmethod or @classmethod."""
        names = [getattr(d, "id", None) for d in function.decorator_list]
        return names in (["staticmethod"], ["classmethod"])

    def body_operator(self, node):
        """Comparison and boolean swaps, `not` removal, numbers +-1."""
        if isinstance(node, ast.Compare):
            lefts = [node.left, *node.comparators[:-1]]
            for left, op, right in zip(lefts, node.ops, node.comparators, strict=True):
                swap = PYTHON_COMPARE_SWAPS.get(type(op))
                if swap:
                    start, end = self.pos.span(left)[1], self.pos.span(right)[0]
                    self.add(node, "body", start, end, f" {swap} ", f"comparison -> {swap}")
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            for left, right in zip(node.values, node.values[1:], strict=False):
                start, end = self.pos.span(left)[1], self.pos.span(right)[0]
                label = f"{'and' if other == 'or' else 'or'} -> {other}"
                self.add(node, "body", start, end, f" {other} ", label)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start, _ = self.pos.span(node)
            operand_start, _ = self.pos.span(node.operand)
            self.add(node, "body", start, operand_start, "", "drop not")
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            self.literal(node, "body", *self.pos.span(node))


def generate(path, source=None):
    """The supplemental mutants of the file at `path` (relative to the project)."""
    if source is None:
        source = Path(path).read_text()
    return Generator(str(path), source).generate()


# Running -------------------------------------------------------------------------


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
    import time

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


def digest(*parts):
    """A short stable hash of some strings."""
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:8]


def main(argv):
    """List the supplemental mutants of the given files."""
    for path in argv:
        source = Path(path).read_text()
        for mutant in generate(path, source):
            before, after = mutant.lines_changed(source)
            print(f"{path}:{mutant.line} [{mutant.kind}] {mutant.scope}: {mutant.description}")
            print(f"    {before}\n    {after}")


if __name__ == "__main__":
    main(sys.argv[1:])
