"""Disclosure control for published (sub-national) figures, as NHS secondary care statistics do it
(domain.md), made to hold against differencing.

1. **Primary**: a count of 1 to 7 is shown as `*`, other counts are rounded to the nearest 5, 0 stays
   0. Activity counted over 1 to 7 people (the ED attendances of 3 HIMSU) is shown as `*` whatever
   its size: it is a fact about those few people.
2. **Totals are rounded after summing**: every count, `ALL` included, is the true count, controlled.
3. **Secondary**: an attacker knows how the figures of a file hang together (`ALL` is the sum of the
   neighbourhoods, the categories of an age band add up to its total, a part is never more than its
   whole). `protect` asks, for every shown or hidden count, the question the attacker would: what
   values are consistent with everything published? It solves that as an integer programme
   (scipy's HiGHS `milp`) and, where the answer is a single value, hides a neighbouring count as
   well, until no count can be worked out exactly.
4. **Rates and means are computed from the published counts**, so they tell nothing the counts do
   not; a rate whose numerator or denominator is hidden is hidden.

Cohort lists are for direct care and are never passed through this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SUPPRESSED = "*"
SMALLEST_SHOWN = 8
ROUNDING_BASE = 5
ALL = "ALL"
# What the attacker may assume of a hidden count with no other bound: far above any real count.
NO_UPPER_BOUND = 10**9


def rounded(value: int) -> int:
    """To the nearest 5 (halves cannot occur for whole numbers and a base of 5)."""
    return (value + ROUNDING_BASE // 2) // ROUNDING_BASE * ROUNDING_BASE


def shown_count(value: int | None) -> str | None:
    """Primary control of one count: `None` stays blank, 0 stays 0, 1-7 `*`, others rounded."""
    if value is None:
        return None
    if value == 0:
        return "0"
    if value < SMALLEST_SHOWN:
        return SUPPRESSED
    return str(rounded(value))


@dataclass(frozen=True)
class Count:
    """A count column. `of_people`: the column counting the people this activity belongs to; when
    they are 1 to 7 the activity is hidden too."""

    column: str
    of_people: str | None = None


@dataclass(frozen=True)
class Rate:
    """`scale * numerator / denominator`, rounded to `decimals`, both taken as published."""

    column: str
    numerator: str
    denominator: str
    scale: float = 100.0
    decimals: int = 2


@dataclass(frozen=True)
class TableRules:
    """How the figures of one published table hang together: what an attacker would use.

    `keys`: the columns that identify a row, `neighbourhood_code` first (its `ALL` row is the sum of
    the others). `same_within`: a count that repeats on every row sharing these keys (the population
    of a neighbourhood on each service's row) is one figure. `sums`: (total, part) where the total is
    the sum of the parts over the rows sharing the total's keys. `at_most`: (part, whole) on each row.
    """

    keys: tuple[str, ...]
    counts: tuple[Count, ...]
    rates: tuple[Rate, ...] = ()
    same_within: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sums: tuple[tuple[str, str], ...] = ()
    at_most: tuple[tuple[str, str], ...] = ()

    def keys_of(self, column: str) -> tuple[str, ...]:
        return self.same_within.get(column, self.keys)


# The state of a figure after control, and what the attacker then knows of its true value.
ZERO, SHOWN, SMALL, FEW_PEOPLE, SECONDARY = "zero", "shown", "small", "few people", "secondary"


@dataclass
class Figure:
    column: str
    key: tuple
    true: int | None
    state: str

    @property
    def hidden(self) -> bool:
        return self.state in (SMALL, FEW_PEOPLE, SECONDARY)

    def bounds(self) -> tuple[float, float]:
        """The attacker's knowledge of the true value from this figure alone."""
        if self.state == ZERO:
            return 0, 0
        if self.state == SHOWN:
            shown = rounded(self.true)
            return shown - ROUNDING_BASE // 2, shown + ROUNDING_BASE // 2
        if self.state == SMALL:
            return 1, SMALLEST_SHOWN - 1
        if self.state == SECONDARY:  # it was shown, so it is 8 or more
            return SMALLEST_SHOWN, NO_UPPER_BOUND
        return 0, NO_UPPER_BOUND  # activity of a few people: anything


class Figures:
    """Every count of a table as one figure per distinct value (`same_within`), with the linear
    relations between them that an attacker knows."""

    def __init__(self, frame: pl.DataFrame, rules: TableRules):
        self.rules = rules
        self.index: dict[tuple[str, tuple], int] = {}
        self.figures: list[Figure] = []
        for count in rules.counts:
            keys = rules.keys_of(count.column)
            for row in frame.select(*keys, count.column).unique(keys, keep="first", maintain_order=True).iter_rows():
                *key, value = row
                self.index[(count.column, tuple(key))] = len(self.figures)
                self.figures.append(Figure(count.column, tuple(key), value, _primary_state(value)))
        self._hide_activity_of_few_people(frame)
        self.equalities, self.inequalities = self._relations(frame)

    def figure_of(self, column: str, row: dict) -> Figure:
        return self.figures[self.index[(column, tuple(row[k] for k in self.rules.keys_of(column)))]]

    def _hide_activity_of_few_people(self, frame: pl.DataFrame) -> None:
        for count in self.rules.counts:
            if count.of_people is None:
                continue
            for row in frame.iter_rows(named=True):
                people = self.figure_of(count.of_people, row)
                activity = self.figure_of(count.column, row)
                if people.true is not None and 1 <= people.true < SMALLEST_SHOWN and activity.true is not None:
                    activity.state = FEW_PEOPLE

    def _relations(self, frame: pl.DataFrame) -> tuple[list[dict[int, int]], list[dict[int, int]]]:
        """Equalities (sum of coefficient * figure = 0) and inequalities (<= 0), as {figure: coefficient}."""
        rules, equalities, inequalities = self.rules, [], []
        for count in rules.counts:  # ALL = the sum of the neighbourhoods
            keys = rules.keys_of(count.column)
            by_rest: dict[tuple, list[int]] = {}
            totals: dict[tuple, int] = {}
            for (column, key), i in self.index.items():
                if column != count.column:
                    continue
                rest = key[1:]
                if key[0] == ALL:
                    totals[rest] = i
                else:
                    by_rest.setdefault(rest, []).append(i)
            for rest, total in totals.items():
                equalities.append({total: 1, **{i: -1 for i in by_rest.get(rest, [])}})
        for total_column, part_column in rules.sums:
            total_keys = rules.keys_of(total_column)
            part_keys = rules.keys_of(part_column)
            positions = [part_keys.index(k) for k in total_keys]
            parts: dict[tuple, list[int]] = {}
            for (column, key), i in self.index.items():
                if column == part_column:
                    parts.setdefault(tuple(key[p] for p in positions), []).append(i)
            for (column, key), i in self.index.items():
                if column == total_column:
                    equalities.append({i: 1, **{p: -1 for p in parts.get(key, [])}})
        seen = set()
        for part, whole in rules.at_most:
            for row in frame.iter_rows(named=True):
                pair = (self.index[(part, tuple(row[k] for k in rules.keys_of(part)))],
                        self.index[(whole, tuple(row[k] for k in rules.keys_of(whole)))])
                if pair not in seen and pair[0] != pair[1]:
                    seen.add(pair)
                    inequalities.append({pair[0]: 1, pair[1]: -1})
        return [e for e in equalities if len(e) > 1], inequalities

    def shown(self, figure: Figure) -> str | None:
        if figure.true is None:
            return None
        if figure.hidden:
            return SUPPRESSED
        return "0" if figure.state == ZERO else str(rounded(figure.true))


def _primary_state(value: int | None) -> str:
    if value is None or value == 0:
        return ZERO
    return SMALL if value < SMALLEST_SHOWN else SHOWN


class Attacker:
    """What values of each figure are consistent with everything published: an integer programme
    per group of related figures (HiGHS, through scipy)."""

    def __init__(self, figures: Figures):
        self.figures = figures
        n = len(figures.figures)
        edges = [(i, j) for relation in figures.equalities + figures.inequalities for i in relation for j in relation]
        graph = coo_matrix(([1] * len(edges), ([e[0] for e in edges], [e[1] for e in edges])), shape=(n, n))
        _, self.component = connected_components(graph, directed=False)
        self._programmes: dict[int, tuple] = {}

    def _programme(self, component: int) -> tuple:
        """The figures of one group and the relations between them, built once."""
        if component in self._programmes:
            return self._programmes[component]
        members = np.flatnonzero(self.component == component)
        position = {int(m): p for p, m in enumerate(members)}
        constraints = []
        for relations, low in ((self.figures.equalities, 0), (self.figures.inequalities, -np.inf)):
            rows = [r for r in relations if next(iter(r)) in position]
            if rows:
                matrix = np.zeros((len(rows), len(members)))
                for r, relation in enumerate(rows):
                    for i, coefficient in relation.items():
                        matrix[r, position[i]] = coefficient
                constraints.append(LinearConstraint(matrix, low, 0))
        self._programmes[component] = members, position, constraints
        return self._programmes[component]

    def range_of(self, target: int) -> tuple[float, float]:
        members, position, constraints = self._programme(self.component[target])
        lower, upper = zip(*(self.figures.figures[m].bounds() for m in members))
        bounds = Bounds(np.array(lower, dtype=float), np.array(upper, dtype=float))
        integrality = np.ones(len(members))
        extremes = []
        for sign in (1, -1):
            objective = np.zeros(len(members))
            objective[position[target]] = sign
            result = milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)
            if result.status != 0:
                raise RuntimeError(f"disclosure audit could not solve for {self.figures.figures[target].column}: {result.message}")
            extremes.append(sign * result.fun)
        return extremes[0], extremes[1]

    def pinned(self, target: int) -> bool:
        low, high = self.range_of(target)
        return math.isclose(low, high, abs_tol=1e-6)


def _neighbours(figures: Figures, target: int) -> set[int]:
    around = {target}
    for relation in figures.equalities + figures.inequalities:
        if target in relation:
            around.update(relation)
    return around


def protect(frame: pl.DataFrame, rules: TableRules) -> pl.DataFrame:
    """`frame` with its counts controlled (primary and secondary) and its rates recomputed from the
    controlled counts, every controlled column as text."""
    return _render(frame, rules, controlled_figures(frame, rules))


def controlled_figures(frame: pl.DataFrame, rules: TableRules) -> Figures:
    """The figures of `frame` after primary and secondary suppression: none can be worked out."""
    figures = Figures(frame, rules)
    attacker = Attacker(figures)
    # Hiding more only widens what the attacker can infer, so a figure once safe stays safe: only
    # the pinned ones need asking again after each secondary suppression.
    pinned = [i for i, f in enumerate(figures.figures) if f.state != ZERO and attacker.pinned(i)]
    while pinned:
        target = pinned[0]
        candidates = [
            i for i in _neighbours(figures, target)
            if figures.figures[i].state == SHOWN
        ]
        if not candidates:
            raise RuntimeError(
                f"disclosure control cannot protect a {figures.figures[target].column} figure: nothing left to hide"
            )
        chosen = min(candidates, key=lambda i: (figures.figures[i].key[0] == ALL, figures.figures[i].true))
        figures.figures[chosen].state = SECONDARY
        pinned = [i for i in pinned if attacker.pinned(i)]
    return figures


def _render(frame: pl.DataFrame, rules: TableRules, figures: Figures) -> pl.DataFrame:
    rows = frame.to_dicts()
    for row in rows:
        published = {c.column: figures.shown(figures.figure_of(c.column, row)) for c in rules.counts}
        for rate in rules.rates:
            row[rate.column] = _rate(published[rate.numerator], published[rate.denominator], rate)
        row.update(published)
    schema = {name: (pl.String if name in {c.column for c in rules.counts} | {r.column for r in rules.rates} else dtype)
              for name, dtype in frame.schema.items()}
    return pl.DataFrame(rows, schema=schema)


def _rate(numerator: str | None, denominator: str | None, rate: Rate) -> str | None:
    if numerator is None or denominator is None:
        return None
    if SUPPRESSED in (numerator, denominator):
        return SUPPRESSED
    if int(denominator) == 0:
        return None
    value = round(rate.scale * int(numerator) / int(denominator), rate.decimals)
    return str(value)


def published(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The disclosure-controlled copy of output table `table` for `metrics/published/`."""
    from metrics.published import PUBLISHED_RULES  # the rules of each file sit beside their tables' names

    if table not in PUBLISHED_RULES:
        raise KeyError(f"no disclosure rules for {table}: every published file needs them")
    return protect(frame, PUBLISHED_RULES[table])
