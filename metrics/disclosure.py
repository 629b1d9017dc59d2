"""Disclosure control for published (sub-national) figures, as NHS secondary care statistics do it
(domain.md): counts of 1 to 7 are shown as `*`, other counts are rounded to the nearest 5, 0 stays 0;
rates and means built on 1 to 7 people are not shown. Totals are rounded after summing: every row
here, ALL included, is computed from unrounded counts and only then controlled. Cohort lists are
for direct care and are never passed through this."""

from __future__ import annotations

import polars as pl

SUPPRESSED = "*"
SMALLEST_SHOWN = 8


def controlled_count(column: str) -> pl.Expr:
    value = pl.col(column)
    rounded = ((value + 2) // 5 * 5).cast(pl.String)  # nearest 5; halves (x.5) cannot occur for integers
    return (
        pl.when(value.is_null()).then(None)
        .when(value == 0).then(pl.lit("0"))
        .when(value < SMALLEST_SHOWN).then(pl.lit(SUPPRESSED))
        .otherwise(rounded)
        .alias(column)
    )


def controlled_rate(column: str, based_on: list[str]) -> pl.Expr:
    """A rate, hidden when any count it is built on is 1 to 7."""
    small = pl.any_horizontal([(pl.col(c) >= 1) & (pl.col(c) < SMALLEST_SHOWN) for c in based_on])
    return pl.when(small).then(pl.lit(SUPPRESSED)).otherwise(pl.col(column).cast(pl.String)).alias(column)


def disclosure_controlled(frame: pl.DataFrame, counts: list[str], rates: dict[str, list[str]]) -> pl.DataFrame:
    """`frame` with `counts` controlled and each rate hidden where its `rates[rate]` counts are small."""
    return frame.with_columns(
        [controlled_rate(rate, based_on) for rate, based_on in rates.items()] + [controlled_count(c) for c in counts]
    )
