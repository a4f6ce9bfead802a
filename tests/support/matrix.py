"""The permission-matrix engine: every route against every role (owner, edit sharee,
view sharee, stranger), the world those roles live in, and the check that a stranger
cannot tell a hidden resource from a missing one."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.support.factories import Account, ApiClient, assert_problem, share

ROLES = ["owner", "edit", "view", "stranger"]
Case = tuple[str, str, int]


def case_id(case: Case) -> str:
    return f"{case[0]}-{case[1]}-{case[2]}"


class Matrix:
    """``expected`` maps a route to its status for each of ROLES, in that order."""

    def __init__(self, expected: dict[str, tuple[int, int, int, int]]) -> None:
        self.expected = expected
        self.cases: list[Case] = [
            (route, role, statuses[n])
            for route, statuses in expected.items()
            for n, role in enumerate(ROLES)
        ]
        self.allowed = [case for case in self.cases if case[2] < 400]
        self.refused = [case for case in self.cases if case[2] >= 400]

    @staticmethod
    def parametrize(cases: list[Case]) -> pytest.MarkDecorator:
        return pytest.mark.parametrize(
            ("route", "role", "status"), cases, ids=[case_id(c) for c in cases]
        )

    def assert_covers(self, routes: dict[str, Any]) -> None:
        """Every route meets every role, and a stranger is never told 403."""
        assert {(route, role) for route, role, _ in self.cases} == {
            (route, role) for route in routes for role in ROLES
        }
        assert all(self.expected[route][3] == 404 for route in routes)


def accounts_by_role(api: ApiClient) -> dict[str, Account]:
    """alice (owner), bob (edit), carol (view) and dave (stranger), registered in order."""
    return {
        "owner": api.account("alice"),
        "edit": api.account("bob"),
        "view": api.account("carol"),
        "stranger": api.account("dave"),
    }


def share_by_role(api: ApiClient, accounts: dict[str, Account], task_id: int) -> None:
    """The owner shares the task with the edit and the view sharee."""
    for role in ("edit", "view"):
        share(api, accounts["owner"], task_id, accounts[role], role)


def assert_hidden_like_missing(
    hidden: TestResponse, missing: TestResponse, hidden_id: int, missing_id: int
) -> None:
    """Both are the same 404 but for the id the detail names and the request id."""
    hidden_body = assert_problem(hidden, 404)
    missing_body = assert_problem(missing, 404)
    assert set(hidden_body) == set(missing_body)
    unique = {"detail", "request_id"}
    assert {k: v for k, v in hidden_body.items() if k not in unique} == {
        k: v for k, v in missing_body.items() if k not in unique
    }
    assert hidden_body["detail"].replace(str(hidden_id), "<id>") == missing_body["detail"].replace(
        str(missing_id), "<id>"
    )
    assert dict(hidden.headers).keys() == dict(missing.headers).keys()
