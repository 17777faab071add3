"""Theme colours against WCAG 2 contrast, and severities told apart by shape as well as colour."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF

from copilot.limits import KINDS, Verdict, classify
from copilot.protocol import Limits, Range, TagSpec
from ui.theme import (
    DARK,
    LIGHT,
    LIMIT_GLYPHS,
    Theme,
    contrast,
    luminance,
    mark_path,
    verdict_color,
    verdict_text_color,
)


def test_contrast_is_the_wcag_formula() -> None:
    assert luminance("#000000") == 0.0 and luminance("#ffffff") == pytest.approx(1.0)
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast("#777777", "#777777") == pytest.approx(1.0)
    # Published reference pairs (WebAIM): #777777 on white 4.48:1, #e07b00 on #e8e8e8 2.45:1.
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#e07b00", "#e8e8e8") == pytest.approx(2.45, abs=0.01)


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=lambda t: t.name)
@pytest.mark.parametrize("colour", ["warning", "fault", "uncertain", "stale", "focus", "text_dim"])
def test_meaningful_colours_keep_3_to_1_on_every_surface(theme: Theme, colour: str) -> None:
    for surface in ("background", "panel", "panel_alt"):
        ratio = contrast(getattr(theme, colour), getattr(theme, surface))
        assert ratio >= 3.0, f"{theme.name} {colour} on {surface}: {ratio:.2f}:1"


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=lambda t: t.name)
def test_text_on_the_warning_and_fault_colours_is_readable(theme: Theme) -> None:
    assert contrast(theme.warning_text, theme.warning) >= 4.5
    assert contrast(theme.banner_text, theme.fault) >= 3.0  # the banner is large bold text
    assert contrast(theme.text, theme.panel) >= 7.0
    amber = Verdict("hi", 1, 1, "▲ H")
    red = Verdict("hihi", 2, 1, "▲▲ HH")
    assert verdict_color(theme, amber).name() == theme.warning
    assert verdict_text_color(theme, amber).name() == theme.warning_text
    assert verdict_text_color(theme, red).name() == theme.banner_text


SPEC = TagSpec(
    name="t",
    alias=1,
    type="float",
    unit="°C",
    eng_range=Range(0.0, 400.0),
    normal=Range(200.0, 250.0),
    limits=Limits(lolo=150.0, lo=190.0, hi=270.0, hihi=290.0),
)


def test_limit_lines_carry_the_glyph_a_value_beyond_them_gets() -> None:
    for kind, glyph in LIMIT_GLYPHS.items():
        at = getattr(SPEC.limits, kind)
        assert classify(SPEC, at, "running").glyph == glyph


def _filled(path, rect: QRectF) -> float:  # type: ignore[no-untyped-def]
    """Share of a grid of points inside ``rect`` that the path contains."""
    n = 24
    inside = sum(
        path.contains(
            QPointF(
                rect.left() + rect.width() * (i + 0.5) / n,
                rect.top() + rect.height() * (j + 0.5) / n,
            )
        )
        for i in range(n)
        for j in range(n)
    )
    return inside / n / n


def test_amber_and_red_differ_in_shape_not_only_colour() -> None:
    # Every abnormal kind of the core classifier has its own shape; amber ones are one triangle,
    # red ones two triangles or a diamond on a bar.
    values = {
        "out_of_normal_high": 255,
        "hi": 275,
        "hihi": 295,
        "top_of_range": 400,
        "out_of_normal_low": 195,
        "lo": 185,
        "lolo": 145,
        "bottom_of_range": 0,
    }
    at, size = QPointF(20, 20), 20.0
    box = QRectF(10, 10, 20, 20)
    shapes = {}
    for kind, value in values.items():
        verdict = classify(SPEC, value, "running")
        assert verdict.kind == kind
        path = mark_path(verdict, at, size)
        shapes[kind] = (path.elementCount(), round(_filled(path, box), 2), verdict.direction)
        polygons = len(path.toSubpathPolygons())
        assert polygons == (1 if verdict.severity == 1 else 2), kind
    assert len(set(shapes.values())) == len(values)
    assert set(values) | {"normal", "no_value"} == set(KINDS)
    assert mark_path(classify(SPEC, 220, "running"), at, size).isEmpty()
