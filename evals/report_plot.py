"""The eval report's plot: one inline SVG of a metric per index and the paired delta over time.

Pure string building (no plotting library, no scripts, no external assets), so a report stays
one self-contained file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from indexes.errors import InvalidInputError

from .formatting import as_text, esc

COLOURS = {"source": "#4c72b0", "target": "#dd8452", "delta": "#55a868", "margin": "#c44e52"}


def plot_svg(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]], metric: str) -> str:
    """``metric`` per index and the paired delta over ``history`` plus ``report``, in time order."""
    return _plot(_timeline(report, history), report.get("meta") or {}, metric)


_WIDTH, _LEFT, _RIGHT = 760, 80, 20
_TOP_PANEL, _BOTTOM_PANEL = (70, 170), (310, 140)  # (top y, height)


def _timeline(
    report: Mapping[str, Any], history: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """History plus this report (once), ordered by ``meta["at"]``; runs without it go last."""
    runs = list(history)
    if not any(run is report or run == report for run in runs):
        runs.append(report)
    keyed = [(_when(run), position, run) for position, run in enumerate(runs)]
    keyed.sort(key=lambda item: (item[0] is None, item[0] or datetime.min.replace(tzinfo=UTC)))
    return [run for _, _, run in keyed]


def _when(run: Mapping[str, Any]) -> datetime | None:
    at = (run.get("meta") or {}).get("at")
    if at is None:
        return None
    try:
        if isinstance(at, str):
            moment = datetime.fromisoformat(at)
        elif isinstance(at, int | float) and not isinstance(at, bool):
            moment = datetime.fromtimestamp(at, UTC)
        else:
            raise TypeError(type(at).__name__)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise InvalidInputError(f"meta 'at' must be ISO 8601 or epoch seconds: {at!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _values(run: Mapping[str, Any], metric: str) -> dict[str, float | None]:
    """The run's points: metric per side, the paired delta and its interval when judged on it."""
    summary, judgement = run.get("summary") or {}, run.get("judgement")
    points = {
        "source": (summary.get("source") or {}).get(metric),
        "target": (summary.get("target") or {}).get(metric),
        "delta": (summary.get("delta") or {}).get(metric),
        "ci_low": None,
        "ci_high": None,
    }
    if isinstance(judgement, Mapping) and judgement.get("metric") == metric:
        for key in ("mean_delta", "ci_low", "ci_high"):
            points["delta" if key == "mean_delta" else key] = judgement.get(key)
    return {key: _finite(value) for key, value in points.items()}


def _finite(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _plot(runs: list[Mapping[str, Any]], meta: Mapping[str, Any], metric: str) -> str:
    values = [_values(run, metric) for run in runs]
    step = (_WIDTH - _LEFT - _RIGHT) / max(len(runs), 1)
    xs = [_LEFT + step * (i + 0.5) for i in range(len(runs))]
    margins = [_finite((run.get("judgement") or {}).get("margin")) for run in runs]
    margin = next((m for m in reversed(margins) if m is not None), None)
    parts = [f'<svg class="plot" width="{_WIDTH}" height="500" viewBox="0 0 {_WIDTH} 500">']
    parts += _recall_panel(values, xs, metric)
    parts += _delta_panel(values, xs, metric, margin)
    parts += _x_axis(runs, xs)
    parts += _legend(meta, margin)
    return "\n".join([*parts, "</svg>"])


def _recall_panel(values: list[dict[str, float | None]], xs: list[float], metric: str) -> list[str]:
    sides = ("source", "target")
    observed = [value for v in values for side in sides if (value := v[side]) is not None]
    low, high = _span(observed, floor=0.0, ceiling=1.0)
    y = _scale(low, high, _TOP_PANEL)
    parts = _y_axis(low, high, y, _TOP_PANEL, metric)
    parts.append(_panel_title(_TOP_PANEL, f"{metric} per index"))
    for side in ("source", "target"):
        parts += _series(side, [(x, v[side]) for x, v in zip(xs, values, strict=True)], y)
    return parts


def _delta_panel(
    values: list[dict[str, float | None]], xs: list[float], metric: str, margin: float | None
) -> list[str]:
    keys = ("delta", "ci_low", "ci_high")
    observed = [value for v in values for key in keys if (value := v[key]) is not None]
    guides = [0.0] + ([-margin] if margin is not None else [])
    low, high = _span(observed + guides, floor=-1.0, ceiling=1.0)
    y = _scale(low, high, _BOTTOM_PANEL)
    parts = _y_axis(low, high, y, _BOTTOM_PANEL, "delta (target - source)")
    parts.append(_panel_title(_BOTTOM_PANEL, f"paired {metric} delta and its interval"))
    parts.append(_hline(y(0.0), "#888", ""))
    if margin is not None:
        parts.append(_hline(y(-margin), COLOURS["margin"], ' stroke-dasharray="6 4"'))
    for x, v in zip(xs, values, strict=True):
        low_ci, high_ci = v["ci_low"], v["ci_high"]
        if low_ci is not None and high_ci is not None:
            top, bottom, left, right = y(high_ci), y(low_ci), x - 4, x + 4
            parts.append(
                f'<path class="ci" data-series="delta" d="M{left:.1f},{top:.1f}H{right:.1f}'
                f'M{x:.1f},{top:.1f}V{bottom:.1f}M{left:.1f},{bottom:.1f}H{right:.1f}" '
                f'stroke="{COLOURS["delta"]}" stroke-width="1.5" fill="none">'
                f"<title>{esc(f'interval [{low_ci:.3f}, {high_ci:.3f}]')}</title></path>"
            )
    return parts + _series("delta", [(x, v["delta"]) for x, v in zip(xs, values, strict=True)], y)


def _series(
    name: str, points: list[tuple[float, float | None]], y: Callable[[float], float]
) -> list[str]:
    kept = [(x, value) for x, value in points if value is not None]
    colour = COLOURS[name]
    parts = []
    if len(kept) > 1:
        path = " ".join(f"{x:.1f},{y(value):.1f}" for x, value in kept)
        parts.append(
            f'<polyline class="line" data-series="{name}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
    parts += [
        f'<circle class="point" data-series="{name}" cx="{x:.1f}" cy="{y(value):.1f}" r="4" '
        f'fill="{colour}"><title>{esc(f"{name}: {value:.3f}")}</title></circle>'
        for x, value in kept
    ]
    return parts


def _span(values: list[float], *, floor: float, ceiling: float) -> tuple[float, float]:
    """A padded value range for an axis, within [floor, ceiling] and never empty."""
    if not values:
        return floor, ceiling
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 0.01)
    return max(low - pad, floor), min(high + pad, ceiling)


def _scale(low: float, high: float, panel: tuple[int, int]) -> Callable[[float], float]:
    top, height = panel
    return lambda value: top + height * (high - value) / (high - low)


def _y_axis(
    low: float, high: float, y: Callable[[float], float], panel: tuple[int, int], label: str
) -> list[str]:
    top, height = panel
    parts = [f'<line x1="{_LEFT}" x2="{_LEFT}" y1="{top}" y2="{top + height}" stroke="#444"/>']
    for value in _ticks(low, high):
        parts.append(_hline(y(value), "#eee", ""))
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.3f}</text>'
        )
    middle = top + height / 2
    parts.append(
        f'<text class="axis-label" x="16" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {middle:.1f})">{esc(label)}</text>'
    )
    return parts


def _ticks(low: float, high: float) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten), about five of them."""
    raw = (high - low) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    first = math.ceil(low / step)
    return [i * step for i in range(first, math.floor(high / step) + 1)]


def _hline(y: float, colour: str, extra: str) -> str:
    return (
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
        f'stroke="{colour}"{extra}/>'
    )


def _x_axis(runs: list[Mapping[str, Any]], xs: list[float]) -> list[str]:
    bottom = _BOTTOM_PANEL[0] + _BOTTOM_PANEL[1]
    every = max(1, math.ceil(len(runs) / 6))  # at most six date labels fit side by side
    parts = [
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{bottom}" y2="{bottom}" stroke="#444"/>'
    ]
    for i, (run, x) in enumerate(zip(runs, xs, strict=True)):
        if i % every == 0:
            moment = _when(run)
            label = moment.strftime("%Y-%m-%d %H:%M") if moment else f"run {i + 1}"
            parts.append(
                f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{esc(label)}</text>'
            )
    parts.append(
        f'<text class="axis-label" x="{(_LEFT + _WIDTH - _RIGHT) / 2:.1f}" y="{bottom + 42}" '
        'text-anchor="middle">run time (meta.at), one run per column</text>'
    )
    return parts


def _panel_title(panel: tuple[int, int], text: str) -> str:
    return f'<text class="panel-title" x="{_LEFT}" y="{panel[0] - 10}">{esc(text)}</text>'


def _legend(meta: Mapping[str, Any], margin: float | None) -> list[str]:
    entries = [
        ("source", f"source: {as_text(meta.get('source_index', 'source index'))}"),
        ("target", f"target: {as_text(meta.get('target_index', 'target index'))}"),
        ("delta", "delta, bars: interval"),
        ("margin", f"-margin ({-margin:.3f})" if margin is not None else "-margin"),
    ]
    parts = []
    for i, (key, label) in enumerate(entries):
        x = _LEFT + i * 165
        short = label if len(label) <= 24 else label[:23] + "\N{HORIZONTAL ELLIPSIS}"
        parts.append(f'<rect x="{x}" y="14" width="12" height="12" fill="{COLOURS[key]}"/>')
        parts.append(
            f'<text class="legend" x="{x + 17}" y="24">{esc(short)}'
            f"<title>{esc(label)}</title></text>"
        )
    return parts
