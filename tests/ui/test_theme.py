"""Theme colours against WCAG 2 contrast, and severities told apart by shape as well as colour."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF

from ui.theme import DARK, LIGHT, MARKS, Theme, contrast, luminance, mark_path


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


def test_amber_and_red_differ_in_shape_not_only_colour() -> None:
    fault, warning = MARKS["fault"], MARKS["warning"]
    assert fault.color == "fault" and warning.color == "warning"
    assert fault.glyph != warning.glyph and fault.symbol != warning.symbol
    assert len({m.glyph for m in MARKS.values()}) == len(MARKS)
    assert len({m.symbol for m in MARKS.values()}) == len(MARKS)
    # Neither shape is an arrow: ▲/▼ point to the violated side beside a value.
    assert not {m.glyph for m in MARKS.values()} & {"▲", "▼"}
    rect = QRectF(0, 0, 20, 20)
    diamond, circle = mark_path("fault", rect), mark_path("warning", rect)
    assert diamond.contains(rect.center()) and circle.contains(rect.center())
    assert not diamond.contains(rect.topLeft() + QRectF(0, 0, 3, 3).center())  # corners empty
    assert diamond.boundingRect() == rect and circle.boundingRect() == rect
    assert abs(diamond.length() - circle.length()) > 1  # perimeter 56.6 vs 62.8
