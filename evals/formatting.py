"""Cell formatting shared by the eval report and its plot (pure string functions)."""

from __future__ import annotations

import html
import json
import math
from typing import Any


def num(value: Any, places: int = 3, *, signed: bool = False) -> str:
    """A number with ``places`` decimals (a sign if asked), or "-" for anything else."""
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "-"
    return f"{value:+.{places}f}" if signed else f"{value:.{places}f}"


def esc(text: str) -> str:
    """HTML-escaped text, quotes included (safe inside attributes)."""
    return html.escape(text, quote=True)


def as_text(value: Any) -> str:
    """A string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)
