"""The one unit of work (src/doable/unit_of_work.py): published signals go out after the
commit and never without one; a refused write becomes the error its use case named."""

from __future__ import annotations

from typing import Any

import pytest
from blinker import Namespace
from flask import Flask

from doable.auth.models import User
from doable.errors import Conflict
from doable.extensions import db
from doable.unit_of_work import on_conflict, publish, unit_of_work, use_case
from tests.support.factories import Account

#: A signal of the test's own: what is published matters, not what any listener does.
probe = Namespace().signal("probe")


def test_publish_outside_a_unit_of_work_is_refused(app: Flask) -> None:
    with app.app_context(), pytest.raises(RuntimeError, match="outside a unit of work"):
        publish(probe, thing=1)


def test_what_a_unit_of_work_publishes_arrives_after_its_commit_only(
    app: Flask, alice: Account
) -> None:
    seen: list[str | None] = []

    def record(sender: Any, **_: Any) -> None:
        with db.engine.connect() as other:  # what another connection sees at delivery
            seen.append(other.exec_driver_sql('SELECT email FROM "user"').scalar())

    with app.app_context(), probe.connected_to(record, sender=app):
        with unit_of_work():
            user = db.session.get(User, alice.id)
            assert user is not None
            user.email = "new@example.com"
            publish(probe, thing=1)
            assert seen == []
        with pytest.raises(ZeroDivisionError):
            _publish_then_fail()

    assert seen == ["new@example.com"]


def _publish_then_fail() -> None:
    with unit_of_work():
        publish(probe, thing=2)
        _ = 1 / 0


def test_a_refused_write_raises_what_the_use_case_named_and_rolls_back(
    app: Flask, alice: Account, bob: Account
) -> None:
    taken = Conflict("That email is taken")

    @use_case(retry=2)
    def take_bobs_email() -> None:
        on_conflict(taken)
        user = db.session.get(User, alice.id)
        assert user is not None
        user.email, user.email_key = bob.email, bob.email.casefold()
        db.session.flush()

    with app.app_context():
        with pytest.raises(Conflict) as refused:
            take_bobs_email()
        assert refused.value is taken
        assert refused.value.__cause__ is not refused.value
        user = db.session.get(User, alice.id)
        assert user is not None
        assert user.email == alice.email
