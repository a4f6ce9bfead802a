"""Text search is answered from the full-text index, not a scan of every row."""

from __future__ import annotations

import sqlalchemy as sa

from doable.extensions import db
from doable.tasks.models import Task
from doable.tasks.search import Search


def _plan(app, q: str) -> str:
    with app.app_context():
        dialect = db.engine.dialect.name
        query = sa.select(Task.id).where(Search.of(q, dialect).matches())
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.engine.connect() as connection:
            if dialect == "postgresql":
                connection.execute(sa.text("SET enable_seqscan = off"))
                rows = connection.execute(sa.text(f"EXPLAIN {compiled}"))
            else:
                rows = connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
            return "\n".join(str(row) for row in rows)


def test_search_query_uses_the_full_text_index(app, api):
    alice = api.account("alice")
    api.post("/api/tasks", alice.token, json={"title": "Learn Flask"})
    plan = _plan(app, "flask -django")
    assert "ix_task_search" in plan or "task_fts VIRTUAL TABLE" in plan, plan
    assert "LIKE" not in plan.upper()
