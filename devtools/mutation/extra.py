"""The supplemental mutator: what mutmut 3 cannot reach.

mutmut 3 mutates function bodies only, through trampolines, and skips decorated
functions. The promises this project keeps also live in

- SQL text: `AND`/`OR`, comparisons, `IS [NOT] NULL`, `NOT`, `IN`, `ASC`/`DESC`,
  `+`/`-` and numbers inside the string literals handed to SQLite;
- module-level (and class-level) constants: retention periods, salts, CSP and header
  strings, tuples of safe methods, numbers;
- decorators (`@dataclass(frozen=True)`, `@lru_cache`, `@property`), and the bodies of
  the decorated functions mutmut leaves alone.

Each mutant is one text edit of the original source (`source.Mutant`). This module
builds them (constants, decorators, decorated bodies; `sql.py` the SQL edits);
`runner.py` tests them in scratch copies of the project.

`python -m devtools.mutation.extra weprode/tokens.py` lists a module's mutants.
"""

import ast
import sys
from pathlib import Path

from .source import Mutant, Positions, inside_text_call, parents_of, scopes_of
from .sql import add_sql_mutants, is_sql

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
        add_sql_mutants(self)
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
