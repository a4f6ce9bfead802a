"""Every colour pair the stylesheet puts text (or a control's edge) on meets WCAG AA in
both themes: the values are read from style.css itself, so a colour change that breaks
contrast fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import doable

STYLESHEET = Path(doable.__file__).parent / "static" / "style.css"
TEXT = 4.5  # WCAG AA, normal text
EDGE = 3.0  # WCAG AA, large text, a control's boundary, a focus indicator

#: (foreground, background, minimum): the pairs the rules use, named by variable.
PAIRS = [
    ("text", "bg", TEXT),  # body
    ("text", "surface", TEXT),  # cards, rows, the header
    ("text", "input-bg", TEXT),  # form fields
    ("text", "invalid-bg", TEXT),  # a field with an error
    ("text", "accent-soft", TEXT),  # a new row's flash
    ("muted", "bg", TEXT),  # footer, hints on the page
    ("muted", "surface", TEXT),  # hints, facts, navigation, history times
    ("muted", "neutral-soft", TEXT),  # low priority badge
    ("accent", "surface", TEXT),  # links and link-buttons in cards
    ("accent", "bg", TEXT),  # links on the page, breadcrumbs
    ("accent-strong", "surface", TEXT),  # link hover, quiet buttons
    ("accent-strong", "accent-soft", TEXT),  # nav current, tags, notices, info flash
    ("accent-strong", "accent-soft-hover", TEXT),  # a tag under the pointer
    ("on-accent", "accent", TEXT),  # buttons, brand mark, "Today", a done toggle's tick
    ("on-accent", "accent-strong", TEXT),  # a button under the pointer
    ("on-accent", "danger", TEXT),  # danger button, "Overdue"
    ("on-accent", "danger-strong", TEXT),  # a danger button under the pointer
    ("danger", "surface", TEXT),  # field errors, overdue due dates, danger text buttons
    ("danger", "bg", TEXT),
    ("danger", "danger-soft", TEXT),  # a danger text button under the pointer
    ("danger-text", "danger-soft", TEXT),  # error flash, high priority, failed states
    ("ok", "ok-soft", TEXT),  # success flash, completed, active, succeeded
    ("warn", "warn-soft", TEXT),  # medium priority, warning notice
    ("neutral", "neutral-soft", TEXT),  # pending, paused
    ("info", "info-soft", TEXT),  # in progress
    ("control", "input-bg", EDGE),  # a form field's edge
    ("control", "surface", EDGE),  # a quiet button's edge
    ("danger", "input-bg", EDGE),  # an invalid field's edge
    ("danger", "invalid-bg", EDGE),
    ("accent", "input-bg", EDGE),  # a focused field's edge
    ("focus", "surface", EDGE),  # the focus ring
    ("focus", "bg", EDGE),
    ("danger", "surface", EDGE),  # an overdue row's left edge
]


def _block(css: str, opening: str) -> str:
    start = css.index(opening) + len(opening)
    return css[start : css.index("}", start)]


def _colours(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def themes() -> dict[str, dict[str, str]]:
    """Each theme's colours by variable name (``bg``: ``#f5f6fa``), read from style.css."""
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    return {
        "light": _colours(_block(css, ":root {")),
        "dark": _colours(_block(css, ':root[data-theme="dark"] {')),
        "system dark": _colours(
            _block(
                css[css.index("@media (prefers-color-scheme: dark)") :],
                ':root[data-theme="system"] {',
            )
        ),
    }


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#ffffff", "#ffffff") == 1


def test_dark_theme_is_the_same_chosen_or_from_the_system() -> None:
    found = themes()

    assert found["dark"] == found["system dark"]
    assert found["dark"] != found["light"]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_pair_names_colours_the_theme_defines(theme: str) -> None:
    colours = themes()[theme]

    named = {name for foreground, background, _ in PAIRS for name in (foreground, background)}
    assert named <= colours.keys()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("foreground", "background", "minimum"), PAIRS)
def test_colour_pair_meets_wcag_aa(
    theme: str, foreground: str, background: str, minimum: float
) -> None:
    colours = themes()[theme]

    ratio = contrast(colours[foreground], colours[background])

    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f} < {minimum}"


def test_rules_name_theme_colours_not_literal_ones() -> None:
    """Outside the theme blocks no rule writes a colour of its own (one that could not
    follow the theme)."""
    css = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    rules = css[css.index("*, *::before") :]
    declarations = " ".join(re.findall(r"\{([^{}]*)\}", rules))

    assert re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", declarations) == []
