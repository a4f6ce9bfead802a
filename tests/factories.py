"""Old import path of :mod:`tests.support.factories`, kept only while tests/web/ still
imports it from here; new code imports ``tests.support.factories``."""

from tests.support.factories import PASSWORD, Account, ApiClient, assert_problem, stored_task

__all__ = ["PASSWORD", "Account", "ApiClient", "assert_problem", "stored_task"]
