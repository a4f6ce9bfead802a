"""Text search over title and description, through each backend's full-text index.

One parser reads ``q`` the way web search boxes do, so both backends agree on its
meaning:

- words are matched whole and ignoring case (``flask`` finds "Flask", not "flasks");
- every word must appear (AND), in the title or the description;
- ``"exact phrase"`` matches the words next to each other, in that order;
- ``-word`` excludes tasks with that word;
- ``or`` between words or phrases matches either side.

PostgreSQL evaluates it with ``websearch_to_tsquery('simple', …)`` against a GIN
expression index; SQLite with an FTS5 table kept in step with ``task`` by triggers.
Both indexes hold each task's owner, so a search of one user's tasks is narrowed to
them inside the index, not after fetching every user's matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, select, text

from doable.errors import ValidationFailed
from doable.tasks.models import Task

SEARCH_INDEX = "ix_task_search"
FTS_TABLE = "task_fts"
MAX_TERMS = 16
FIELD_BREAK = "doable@field.break"

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")  # letters and digits; everything else separates words


def is_search_object(name: str | None) -> bool:
    """Search structures live in migrations only (they differ by backend)."""
    return bool(name) and (name == SEARCH_INDEX or str(name).startswith(FTS_TABLE))


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    negated: bool = False


def parse(q: str) -> list[list[Term]]:
    """``q`` as OR-groups of terms; raises ValidationFailed when nothing can be found."""
    groups: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(q):
        dash, phrase, bare = match.groups()
        if bare is not None and bare.lower() == "or":
            groups.append([])
            continue
        negated = bool(dash) or (bare is not None and bare.startswith("-"))
        words = tuple(w.lower() for w in _WORD.findall(phrase if phrase is not None else bare))
        if words:
            groups[-1].append(Term(words, negated))
    groups = [group for group in groups if group]
    if sum(len(group) for group in groups) > MAX_TERMS:
        raise ValidationFailed({"q": [f"Use at most {MAX_TERMS} words or phrases."]})
    if not groups or any(all(term.negated for term in group) for group in groups):
        raise ValidationFailed({"q": ["Give at least one word to find (not only -excluded ones)."]})
    return groups


@dataclass(frozen=True)
class Search:
    """``q`` parsed once, as conditions for the statements of one list request."""

    groups: list[list[Term]]
    dialect: str

    @classmethod
    def of(cls, q: str, dialect: str) -> Search:
        return cls(parse(q), dialect)

    @property
    def chooses_reads(self) -> bool:
        """Whether the caller of ``matches`` chooses how its rows are read (``scan``):
        on SQLite; PostgreSQL's planner weighs the two itself."""
        return self.dialect != "postgresql"

    def matches(self, *, owner_id: int | None = None, scan: bool = False) -> ColumnElement[bool]:
        """The WHERE condition for tasks matching ``q``.

        ``owner_id``: the caller also requires ``task.user_id = owner_id``. PostgreSQL's
        index starts with ``user_id``, so its planner intersects the two in the index;
        SQLite's has to be told, in the MATCH expression.

        ``scan`` (SQLite): the rows are read from a sort index and each is checked
        against the set of matches, instead of every match being fetched and then
        sorted; the caller knows, from the count, which reads fewer rows (``id + 0``
        keeps SQLite from looking the matches up by id). PostgreSQL's planner weighs the
        two itself, from its statistics.
        """
        if self.dialect == "postgresql":
            document = func.to_tsvector(literal_column("'simple'"), postgres_document())
            query = func.websearch_to_tsquery(
                literal_column("'simple'"), bindparam("q_web", _websearch(self.groups))
            )
            return document.op("@@")(query)
        task_id = Task.id + 0 if scan else Task.id
        return task_id.in_(self._fts_rows(owner_id, select(literal_column("rowid"))))

    def count_owned(self, owner_id: int) -> ColumnElement[int] | None:
        """How many of ``owner_id``'s tasks match, counted inside the index where it can
        (SQLite: FTS5 alone, without visiting the tasks); None: count the tasks."""
        if self.dialect == "postgresql":
            return None
        return self._fts_rows(owner_id, select(func.count())).scalar_subquery()

    def _fts_rows(self, owner_id: int | None, columns: Select[Any]) -> Select[Any]:
        expression = _fts5(self.groups)
        if owner_id is not None:
            expression = f"user_id : {int(owner_id)} AND {expression}"
        # An anonymous parameter: one statement holds several of these expressions.
        table: ColumnElement[Any] = literal_column(FTS_TABLE)
        return columns.select_from(text(FTS_TABLE)).where(table.op("MATCH")(expression))


def postgres_document() -> ColumnElement[str]:
    """Title and description split into words exactly as SQLite's FTS5 splits them.

    PostgreSQL's parser would keep ``example.com`` or ``1.5`` whole; replacing every
    non-alphanumeric run by a space makes both backends see the same words. Between
    the two fields stands a token no query can produce (queries are letters and digits
    only), so a phrase never matches across the end of the title.
    """

    def words(column: Any) -> Any:
        # Constants stay literal SQL so the expression matches the index's, text for text.
        return func.regexp_replace(
            column, literal_column("'[^[:alnum:]]+'"), literal_column("' '"), literal_column("'g'")
        )

    joined = words(Task.title).op("||")(literal_column(f"' {FIELD_BREAK} '"))
    document: ColumnElement[str] = joined.op("||")(words(Task.description))
    return document


def _websearch(groups: list[list[Term]]) -> str:
    def term(t: Term) -> str:
        body = " ".join(t.words)
        return ("-" if t.negated else "") + (f'"{body}"' if len(t.words) > 1 else body)

    return " or ".join(" ".join(term(t) for t in _positives_first(g)) for g in groups)


def _fts5(groups: list[list[Term]]) -> str:
    def group(g: list[Term]) -> str:
        ordered = _positives_first(g)
        parts = [f'"{" ".join(t.words)}"' for t in ordered if not t.negated]
        parts += [f'NOT "{" ".join(t.words)}"' for t in ordered if t.negated]
        return "(" + " ".join(parts) + ")"

    # The words are looked for in the title and description only, never in ``user_id``.
    return "{title description} : (" + " OR ".join(group(g) for g in groups) + ")"


def _positives_first(group: list[Term]) -> list[Term]:
    return sorted(group, key=lambda t: t.negated)
