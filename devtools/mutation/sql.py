"""Operators inside SQL string literals: which strings are SQL, and their edits.

mutmut changes a string literal as a whole (case, "XX" marks); the promises kept in
SQL text (`AND`, `<=`, `IS NULL`, `NOT IN`, `DESC` ...) need edits inside it.
"""

import ast
import io
import re
import tokenize

from .source import inside_text_call, is_docstring

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


def add_sql_mutants(generator):
    """Add to `generator` (extra.Generator) the operator edits of every SQL literal.

    Docstrings and display text (`_l(...)`) are skipped; the edits are made per string
    token, so implicitly concatenated pieces keep their own positions.
    """
    tokens = [
        token
        for token in tokenize.generate_tokens(io.StringIO(generator.source).readline)
        if token.type == tokenize.STRING
    ]
    for node in ast.walk(generator.tree):
        if isinstance(node, ast.JoinedStr):
            value = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if isinstance(generator.parents.get(node), ast.JoinedStr | ast.FormattedValue):
                continue
            value = node.value
        else:
            continue
        if not is_sql(value) or is_docstring(node, generator.parents):
            continue
        if inside_text_call(node, generator.parents):
            continue
        start, end = generator.pos.span(node)
        state = {}
        for token in tokens:
            if token.start < start or token.end > end:
                continue
            if token.start[0] != token.end[0]:
                continue  # triple-quoted multi-line SQL: none in the targets
            offset, body = string_token_body(token.string)
            line, column = token.start
            for begin, finish, replacement, label in sql_edits(mask(body), state):
                generator.add(
                    node,
                    "sql",
                    (line, column + offset + begin),
                    (line, column + offset + finish),
                    replacement,
                    f"SQL {label}",
                )
