"""``q``: text search in title and description, with the meaning documented in
``doable.tasks.search`` (whole words, all words, "phrases", -exclusions, ``or``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from doable.errors import ProblemType
from tests.support.factories import Account, ApiClient, assert_problem, share

# title -> (description, status)
ALICE_TASKS = {
    "Learn Flask": ("Complete the tutorial", "in_progress"),
    "Flasks for the lab": ("Order glassware", "pending"),
    "Buy milk": ("and bread from the shop", "pending"),
    "Bake bread": ("needs flour", "completed"),
    "Milk chocolate": ("", "pending"),
    "Chocolate milk": ("", "completed"),
    "Milk and dark chocolate": ("", "pending"),
    "Call the bank": ("about the MILK subscription", "completed"),
    "Read a book": ("", "pending"),
    "Café meeting": ("", "pending"),
}
BOB_TASKS = {
    "Buy milk": ("bob's milk and bread", "pending"),
    "Learn Flask": ("Complete the tutorial", "completed"),
    "Secret zebra": ("", "pending"),
}


# --- helpers -------------------------------------------------------------------------


def add_tasks(
    api: ApiClient, account: Account, tasks: dict[str, tuple[str, str]]
) -> dict[str, int]:
    ids = {}
    for title, (description, status) in tasks.items():
        body = {"title": title, "description": description, "status": status}
        response = api.post("/api/tasks", account.token, json=body)
        assert response.status_code == 201, response.get_json()
        ids[title] = response.get_json()["id"]
    return ids


def search(api: ApiClient, account: Account, q: str, **params: Any) -> Any:
    query = urlencode({"q": q, "per_page": 100, **params})
    return api.get(f"/api/tasks?{query}", account.token)


def found(response: Any) -> set[str]:
    """Titles found, after checking the response is a well-formed listing."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["total"] == len(body["tasks"])
    return {task["title"] for task in body["tasks"]}


@pytest.fixture
def ids(api: ApiClient, alice: Account, bob: Account) -> dict[str, int]:
    """alice's tasks by title; bob's exist too and must never show up for alice."""
    add_tasks(api, bob, BOB_TASKS)
    return add_tasks(api, alice, ALICE_TASKS)


# --- meaning of q -------------------------------------------------------------------------

QUERIES = {
    # whole words, ignoring case: "flask" is not "flasks"
    "word": ("flask", {"Learn Flask"}),
    "word-upper-case": ("FLASK", {"Learn Flask"}),
    "word-mixed-case": ("fLaSk", {"Learn Flask"}),
    "plural-is-another-word": ("flasks", {"Flasks for the lab"}),
    "prefix-is-not-a-word": ("choc", set()),
    # title or description
    "word-non-ascii-any-case": ("CAFÉ", {"Café meeting"}),
    "word-in-description": ("tutorial", {"Learn Flask"}),
    "word-in-description-any-case": ("subscription", {"Call the bank"}),
    "word-in-title-or-description": (
        "milk",
        {
            "Buy milk",
            "Milk chocolate",
            "Chocolate milk",
            "Milk and dark chocolate",
            "Call the bank",
        },
    ),
    # every word must match, wherever it is
    "all-words": (
        "milk chocolate",
        {"Milk chocolate", "Chocolate milk", "Milk and dark chocolate"},
    ),
    "all-words-across-fields": ("buy bread", {"Buy milk"}),
    "all-words-one-missing": ("milk flour", set()),
    # "phrases": adjacent, in order
    "phrase": ('"milk chocolate"', {"Milk chocolate"}),
    "phrase-reversed": ('"chocolate milk"', {"Chocolate milk"}),
    "phrase-in-description": ('"order glassware"', {"Flasks for the lab"}),
    "phrase-and-word": ('"dark chocolate" milk', {"Milk and dark chocolate"}),
    # "Buy milk" + "and bread from the shop": the phrase is in neither field
    "phrase-not-across-title-and-description": ('"milk and bread"', set()),
    # -exclusions
    "exclude": ("milk -chocolate", {"Buy milk", "Call the bank"}),
    "exclude-word-in-description": (
        "milk -bread",
        {
            "Milk chocolate",
            "Chocolate milk",
            "Milk and dark chocolate",
            "Call the bank",
        },
    ),
    "exclude-phrase": (
        'chocolate -"milk chocolate"',
        {"Chocolate milk", "Milk and dark chocolate"},
    ),
    # or
    "or": ("flour or tutorial", {"Bake bread", "Learn Flask"}),
    "or-upper-case": ("flour OR tutorial", {"Bake bread", "Learn Flask"}),
    "or-of-groups": ("milk bank or book", {"Call the bank", "Read a book"}),
    "or-with-phrase": ('"chocolate milk" or flask', {"Chocolate milk", "Learn Flask"}),
    "or-with-exclusion": (
        "chocolate -dark or flour",
        {
            "Milk chocolate",
            "Chocolate milk",
            "Bake bread",
        },
    ),
    # nothing
    "no-match": ("zebra", set()),
}


@pytest.mark.parametrize(("q", "titles"), list(QUERIES.values()), ids=list(QUERIES))
def test_search_returns_exactly_the_matching_tasks(
    api: ApiClient, alice: Account, ids: dict[str, int], q: str, titles: set[str]
) -> None:
    response = search(api, alice, q)

    assert found(response) == titles
    body = response.get_json()
    assert {task["id"] for task in body["tasks"]} == {ids[title] for title in titles}
    assert {task["owner"]["id"] for task in body["tasks"]} <= {alice.id}


def test_search_no_match_returns_empty_envelope(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    response = search(api, alice, "zebra")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"tasks", "total", "page", "per_page", "pages"}
    assert (body["tasks"], body["total"], body["page"]) == ([], 0, 1)


def test_search_never_finds_other_users_tasks(
    api: ApiClient, alice: Account, bob: Account, ids: dict[str, int]
) -> None:
    response = search(api, bob, "milk")

    assert found(response) == {"Buy milk"}
    assert [task["owner"]["id"] for task in response.get_json()["tasks"]] == [bob.id]


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"status": "pending"}, {"Buy milk", "Milk chocolate", "Milk and dark chocolate"}),
        ({"status": "completed"}, {"Chocolate milk", "Call the bank"}),
        ({"scope": "shared"}, set()),
    ],
    ids=["status-pending", "status-completed", "scope-shared"],
)
def test_search_is_still_filtered_by_other_parameters(
    api: ApiClient, alice: Account, ids: dict[str, int], params: dict[str, str], titles: set[str]
) -> None:
    response = search(api, alice, "milk", **params)

    assert found(response) == titles


def test_search_results_are_sorted_and_paged(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    expected = sorted(
        [
            "Buy milk",
            "Milk chocolate",
            "Chocolate milk",
            "Milk and dark chocolate",
            "Call the bank",
        ],
        key=str.lower,
    )

    pages = [search(api, alice, "milk", sort="title", per_page=2, page=n) for n in (1, 2, 3)]

    titles = [task["title"] for page in pages for task in page.get_json()["tasks"]]
    assert titles == expected
    assert [page.get_json()["total"] for page in pages] == [5, 5, 5]
    assert [page.get_json()["pages"] for page in pages] == [3, 3, 3]


SORTS = [f"{sign}{key}" for key in ["created_at", "title", "due_date"] for sign in ["", "-"]]


@pytest.mark.parametrize("sort", SORTS)
def test_search_pages_of_every_size_match_the_whole_list(
    api: ApiClient, alice: Account, ids: dict[str, int], sort: str
) -> None:
    # Small pages read the owner's tasks in sort order and check each against the
    # matches; one page of 100 fetches the matches and sorts them (service._Counted).
    whole = search(api, alice, "milk or bread", sort=sort).get_json()
    assert whole["total"] == 6

    for per_page in (1, 2, 4):
        walked = []
        for page in range(1, -(-whole["total"] // per_page) + 1):
            body = search(api, alice, "milk or bread", sort=sort, per_page=per_page, page=page)
            assert body.get_json()["total"] == whole["total"]
            walked += [task["id"] for task in body.get_json()["tasks"]]
        assert walked == [task["id"] for task in whole["tasks"]]


@pytest.mark.parametrize(
    ("scope", "owners"),
    [("all", ["alice"] * 5 + ["bob"]), ("owned", ["alice"] * 5), ("shared", ["bob"])],
)
def test_search_finds_tasks_shared_with_the_searcher(
    api: ApiClient, alice: Account, bob: Account, ids: dict[str, int], scope: str, owners: list[str]
) -> None:
    bobs = search(api, bob, "zebra or milk").get_json()["tasks"]
    for task in bobs:
        share(api, bob, task["id"], alice, "view")

    response = search(api, alice, "milk", scope=scope, sort="title")

    body = response.get_json()
    assert sorted(task["owner"]["username"] for task in body["tasks"]) == owners
    assert body["total"] == len(owners)


def test_search_for_a_number_never_matches_the_searcher_s_own_id(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    # The index holds each task's owner id; a word is looked for in title and description only.
    response = search(api, alice, str(alice.id))

    assert found(response) == set()


# --- search follows changes -----------------------------------------------------------------


def test_search_after_title_change_finds_new_word_not_old(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    task_id = ids["Read a book"]

    changed = api.patch(f"/api/tasks/{task_id}", alice.token, json={"title": "Read a novel"})

    assert changed.status_code == 200
    assert found(search(api, alice, "book")) == set()
    assert found(search(api, alice, "novel")) == {"Read a novel"}


def test_search_after_description_change_finds_new_word_not_old(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    task_id = ids["Bake bread"]

    changed = api.put(f"/api/tasks/{task_id}", alice.token, json={"description": "needs yeast"})

    assert changed.status_code == 200
    assert found(search(api, alice, "flour")) == set()
    assert found(search(api, alice, "yeast")) == {"Bake bread"}


def test_search_after_delete_no_longer_finds_the_task(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    deleted = api.delete(f"/api/tasks/{ids['Learn Flask']}", alice.token)

    assert deleted.status_code == 204
    assert found(search(api, alice, "flask")) == set()
    assert found(search(api, alice, "tutorial")) == set()


def test_search_after_other_field_change_still_finds_the_task(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    changed = api.patch(
        f"/api/tasks/{ids['Learn Flask']}", alice.token, json={"status": "completed"}
    )

    assert changed.status_code == 200
    assert found(search(api, alice, "flask")) == {"Learn Flask"}


@pytest.mark.parametrize(
    ("q", "title"),
    [
        ("example.com", "Email support at example.com"),
        ("example", "Email support at example.com"),
        ("1.5", "Upgrade to release 1.5"),
        ("e-mail", "Answer e-mail"),
        ("mail", "Answer e-mail"),
        ("snake_case", "Rename snake_case variables"),
        ("don't", "Remember: don't panic"),
    ],
)
def test_search_word_with_punctuation_finds_the_task_containing_it(
    api: ApiClient, alice: Account, q: str, title: str
) -> None:
    add_tasks(api, alice, {title: ("", "pending"), "Unrelated": ("", "pending")})

    response = search(api, alice, q)

    assert found(response) == {title}


# --- bad q ----------------------------------------------------------------------------------

BAD_QUERIES = {
    "only-excluded-word": "-milk",
    "only-excluded-words": "-milk -bread",
    "only-excluded-phrase": '-"milk chocolate"',
    "or-side-only-excluded": "milk or -bread",
    "too-long": "a" * 201,
    "empty": "",
    "blank": "   ",
    "only-or": "or",
    "only-punctuation": "&&",
    "only-exclamation-marks": "!!!",
    "only-emoji": "\U0001f389",
    "excluded-punctuation": "-!!!",
}


@pytest.mark.parametrize("q", list(BAD_QUERIES.values()), ids=list(BAD_QUERIES))
def test_search_bad_q_returns_400_naming_q(
    api: ApiClient, alice: Account, ids: dict[str, int], q: str
) -> None:
    response = api.get(f"/api/tasks?{urlencode({'q': q})}", alice.token)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"q"}
    assert problem["type"] == ProblemType.INVALID_INPUT.uri
    assert "tasks" not in problem


def test_search_q_of_200_chars_is_accepted(
    api: ApiClient, alice: Account, ids: dict[str, int]
) -> None:
    response = search(api, alice, "a" * 200)

    assert found(response) == set()


SPECIAL_QUERIES = [
    '"',
    '""',
    '"milk',
    'milk"',
    "*",
    "milk*",
    "(",
    "(milk",
    ")",
    "'",
    "milk'",
    "don't",
    ":",
    "title:milk",
    "&",
    "milk & bread",
    "|",
    "milk | bread",
    "!",
    "!milk",
    "NEAR",
    "NEAR(milk bread)",
    "milk NEAR bread",
    "AND",
    "milk AND bread",
    "NOT",
    "milk NOT bread",
    "OR milk",
    "milk OR",
    "-",
    "--milk",
    "- milk",
    "^milk",
    "milk + bread",
    "<->",
    "milk <-> bread",
    "{milk}",
    "\\",
    "milk\\",
    "%",
    "_",
    ";",
    "milk' OR '1'='1",
    "milk; DROP TABLE task; --",
    "ünïcödé",
    "日本語",
]


@pytest.mark.parametrize("q", SPECIAL_QUERIES)
def test_search_special_characters_never_give_500(
    api: ApiClient, alice: Account, ids: dict[str, int], q: str
) -> None:
    response = api.get(f"/api/tasks?{urlencode({'q': q})}", alice.token)

    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        problem = assert_problem(response, 400)
        assert set(problem["errors"]) == {"q"}
    else:
        body = response.get_json()
        assert set(body) == {"tasks", "total", "page", "per_page", "pages"}
        assert {task["owner"]["id"] for task in body["tasks"]} <= {alice.id}
    assert found(search(api, alice, "milk")), "the database still answers afterwards"
