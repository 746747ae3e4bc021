"""Numbers for people: energies with SI prefixes, durations, metrics, p-values."""

from __future__ import annotations

import math

from hyperwatt.analysis.quantities import Quantity

NOT_MEASURED = "not measured"
_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"))


def si(value: float | None, unit: str, digits: int = 4) -> str:
    """`12345.6, "J"` -> `12.35 kJ`; None -> "—"."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return f"0 {unit}"
    factor, prefix = next(((f, p) for f, p in _PREFIXES if abs(value) >= f), _PREFIXES[-1])
    return f"{value / factor:.{digits}g} {prefix}{unit}".replace("-", "−")


def plain(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}".replace("-", "−")


def quantity(value: float | None, q: Quantity, digits: int = 4) -> str:
    """A value in the quantity's unit: energies with SI prefixes, durations in s, metrics bare."""
    if q.unit == "J":
        return si(value, "J", digits)
    if q.unit == "s":
        return "—" if value is None else f"{plain(value, digits)} s"
    return plain(value, digits)


def p_value(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def p_phrase(p: float | None) -> str:
    """`p = 0.003`, `p < 1e-4`."""
    text = p_value(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def percent(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"
