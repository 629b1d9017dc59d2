"""Disclosure control for published (sub-national) figures, as NHS secondary care statistics do it
(domain.md), made to hold against differencing.

1. **Primary**: a count of 1 to 7 is shown as `*`, other counts are rounded to the nearest 5, 0 stays
   0. Activity counted over 1 to 7 people (the ED attendances of 3 HIMSU) is shown as `*` whatever
   its size: it is a fact about those few people.
2. **Totals are rounded after summing**: every count, `ALL` included, is the true count, controlled.
3. **Secondary**: an attacker knows how the figures of a file hang together (`ALL` is the sum of the
   neighbourhoods, a part is never more than its whole, a high intensity user of GP services has at
   least the threshold's appointments: `metrics.published` lists them per file). `protect` asks,
   for every figure, the attacker's question: what values are consistent with everything
   published? It answers with integer programmes (scipy's HiGHS `milp`) and, where only the true
   value fits, hides a related figure as well, until no figure can be worked out exactly. The
   attacker is taken to know which rule hid each `*`: a small count's says 1 to 7, a secondary
   one's 8 or more, the activity of a few people's nothing.
4. **Rates and means are computed from the published counts**, so they tell nothing the counts do
   not; a rate whose numerator or denominator is hidden is hidden. So are other derived figures
   (`Derived`: an avoided count, a percentage change, Byar limits): from the published counts and
   the row's modelled figures (an expected count), hidden when a count they need is.

Cohort lists are for direct care and are never passed through this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SUPPRESSED = "*"
SMALLEST_SHOWN = 8
ROUNDING_BASE = 5
ALL = "ALL"


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
    """`scale * numerator / denominator`, rounded to `decimals`, both taken as published. With
    `denominator=None` the denominator is the sum of the published numerators of the rows sharing
    the `within` keys (a share of an age band); hidden when any of them is hidden."""

    column: str
    numerator: str
    denominator: str | None
    scale: float = 100.0
    decimals: int = 2
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derived:
    """A figure worked out from a row's published counts (`counts`) and its other columns (`values`,
    passed as they are: modelled figures such as an expected count), by `compute(row)` with the
    counts as integers, rounded to `decimals`. Hidden (`*`) when any count it needs is hidden, so it
    tells nothing the counts do not."""

    column: str
    counts: tuple[str, ...]
    compute: Callable[[dict], float | None]
    values: tuple[str, ...] = ()
    decimals: int = 1


# A linear relation between the true figures of a table that an attacker knows:
# lower <= sum(coefficient * figure) <= upper, figures named by (column, row).
Relation = tuple[list[tuple[float, str, dict]], float, float]


@dataclass(frozen=True)
class TableRules:
    """How the figures of one published table hang together: what an attacker would use.

    `keys`: the columns that identify a row, `neighbourhood_code` first (its `ALL` row is the sum of
    the others). `same_within`: a count that repeats on every row sharing these keys (the population
    of a neighbourhood on each service's row) is one figure. `at_most`: (part, whole) on each row.
    `relations(frame, thresholds, big)`: what the domain adds (a high intensity user has at least
    the threshold's activity; `big` stands for "any number")."""

    keys: tuple[str, ...]
    counts: tuple[Count, ...]
    rates: tuple[Rate, ...] = ()
    derived: tuple[Derived, ...] = ()
    same_within: dict[str, tuple[str, ...]] = field(default_factory=dict)
    at_most: tuple[tuple[str, str], ...] = ()
    relations: Callable[[pl.DataFrame, Any, float], list[Relation]] | None = None

    def keys_of(self, column: str) -> tuple[str, ...]:
        return self.same_within.get(column, self.keys)


# The state of a figure after control.
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


class Figures:
    """Every count of a table as one figure per distinct value (`same_within`), with the linear
    relations between them that an attacker knows."""

    def __init__(self, frame: pl.DataFrame, rules: TableRules, thresholds=None):
        self.rules = rules
        self.index: dict[tuple[str, tuple], int] = {}
        self.figures: list[Figure] = []
        for count in rules.counts:
            keys = rules.keys_of(count.column)
            for row in frame.select(*keys, count.column).unique(keys, keep="first", maintain_order=True).iter_rows():
                *key, value = row
                self.index[(count.column, tuple(key))] = len(self.figures)
                self.figures.append(Figure(count.column, tuple(key), value, _primary_state(value)))
        largest = max([f.true or 0 for f in self.figures], default=0)
        self.big = float(10 * largest + 1000)  # "any number": far above every figure of the table
        self._hide_activity_of_few_people(frame)
        self.relations = self._relations(frame, thresholds)

    def figure_of(self, column: str, row: dict) -> Figure:
        return self.figures[self.index_of(column, row)]

    def index_of(self, column: str, row: dict) -> int:
        return self.index[(column, tuple(row[k] for k in self.rules.keys_of(column)))]

    def _hide_activity_of_few_people(self, frame: pl.DataFrame) -> None:
        for count in self.rules.counts:
            if count.of_people is None:
                continue
            for row in frame.iter_rows(named=True):
                people = self.figure_of(count.of_people, row)
                activity = self.figure_of(count.column, row)
                if people.true is not None and 1 <= people.true < SMALLEST_SHOWN and activity.true is not None:
                    activity.state = FEW_PEOPLE

    def _relations(self, frame: pl.DataFrame, thresholds) -> list[tuple[dict[int, float], float, float]]:
        """Each as ({figure: coefficient}, lower, upper)."""
        rules, relations = self.rules, []
        for count in rules.counts:  # ALL = the sum of the neighbourhoods
            by_rest: dict[tuple, list[int]] = {}
            totals: dict[tuple, int] = {}
            for (column, key), i in self.index.items():
                if column != count.column:
                    continue
                if key[0] == ALL:
                    totals[key[1:]] = i
                else:
                    by_rest.setdefault(key[1:], []).append(i)
            for rest, total in totals.items():
                relations.append(({total: 1.0, **{i: -1.0 for i in by_rest.get(rest, [])}}, 0.0, 0.0))
        named: list[Relation] = [([(1.0, part, row), (-1.0, whole, row)], -np.inf, 0.0)
                                 for part, whole in rules.at_most for row in frame.iter_rows(named=True)]
        if rules.relations is not None:
            named += rules.relations(frame, thresholds, self.big)
        seen = set()
        for terms, lower, upper in named:
            coefficients: dict[int, float] = {}
            for coefficient, column, row in terms:
                i = self.index_of(column, row)
                coefficients[i] = coefficients.get(i, 0.0) + coefficient
            signature = (tuple(sorted(coefficients.items())), lower, upper)
            if signature not in seen and any(coefficients.values()):
                seen.add(signature)
                relations.append((coefficients, lower, upper))
        return [r for r in relations if len(r[0]) > 1 or r[1] != r[2]]

    def bounds(self, figure: Figure) -> tuple[float, float]:
        """The attacker's knowledge of the true value from this figure alone. The rules are public
        and the attacker may tell which one hid a `*` (the activity beside a hidden people count is
        the few-people rule's), so each hidden figure says only what its own rule says."""
        if figure.state == SMALL:
            return 1, SMALLEST_SHOWN - 1
        if figure.state == FEW_PEOPLE:  # hidden whatever its size
            return 0, self.big
        if figure.state == SECONDARY:  # it would have been shown: 8 or more (or a 0)
            return (SMALLEST_SHOWN if figure.true else 0), self.big
        if figure.state == ZERO:
            return 0, 0
        shown = rounded(figure.true)
        return shown - ROUNDING_BASE // 2, shown + ROUNDING_BASE // 2

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
        edges = [(i, j) for relation, _, _ in figures.relations for i in relation for j in relation]
        graph = coo_matrix(([1] * len(edges), ([e[0] for e in edges], [e[1] for e in edges])), shape=(n, n))
        _, self.component = connected_components(graph, directed=False)
        self._programmes: dict[int, tuple] = {}

    def _programme(self, component: int) -> tuple:
        """The figures of one group and the relations between them, built once."""
        if component in self._programmes:
            return self._programmes[component]
        members = np.flatnonzero(self.component == component)
        position = {int(m): p for p, m in enumerate(members)}
        rows = [r for r in self.figures.relations if next(iter(r[0])) in position]
        constraints = []
        if rows:
            matrix = np.zeros((len(rows), len(members)))
            for r, (relation, _, _) in enumerate(rows):
                for i, coefficient in relation.items():
                    matrix[r, position[i]] = coefficient
            constraints.append(LinearConstraint(matrix, [r[1] for r in rows], [r[2] for r in rows]))
        self._programmes[component] = members, position, constraints
        return self._programmes[component]

    def _bounds(self, members) -> Bounds:
        """What the figures say of themselves now (hiding one more changes them)."""
        lower, upper = zip(*(self.figures.bounds(self.figures.figures[m]) for m in members))
        return Bounds(np.array(lower, dtype=float), np.array(upper, dtype=float))

    def range_of(self, target: int) -> tuple[float, float]:
        members, position, constraints = self._programme(self.component[target])
        bounds = self._bounds(members)
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
        return round(low) == round(high)  # whole numbers: solver tolerances must not hide a pin

    def pinned_among(self, targets: list[int]) -> list[int]:
        """The figures of `targets` that only their true value fits. Any solution that gives a
        figure another value proves it cannot be worked out, so every solution found is used
        against every figure still open: pushing all the open figures of a group up, then down,
        again while that frees any; then the rest one by one (lowest value, and only if that is the
        true one, highest), each solution freeing the others it moves. A 3,000-person run asks 708
        programmes where asking each figure its range asked 2,898, for the same answer."""
        open_figures = set(targets)
        for component in sorted({int(self.component[t]) for t in targets}):
            members, position, constraints = self._programme(component)
            bounds = self._bounds(members)
            integrality = np.ones(len(members))
            truth = {int(m): self.figures.figures[m].true for m in members}

            def solve(objective: np.ndarray):
                return milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)

            def free_moved_by(x: np.ndarray) -> None:
                open_figures.difference_update(
                    [m for m in truth if m in open_figures and round(x[position[m]]) != truth[m]])

            while asked := [m for m in truth if m in open_figures]:
                for sign in (-1, 1):
                    objective = np.zeros(len(members))
                    objective[[position[m] for m in asked]] = sign
                    result = solve(objective)
                    if result.x is not None:
                        free_moved_by(result.x)
                if len([m for m in truth if m in open_figures]) == len(asked):
                    break
            for target in [m for m in truth if m in open_figures]:
                for sign in (1, -1):
                    if target not in open_figures:
                        break
                    objective = np.zeros(len(members))
                    objective[position[target]] = sign
                    result = solve(objective)
                    if result.status != 0:
                        raise RuntimeError(f"disclosure audit could not solve for {self.figures.figures[target].column}: {result.message}")
                    free_moved_by(result.x)
        return [t for t in targets if t in open_figures]


def _neighbours(figures: Figures, target: int) -> set[int]:
    around = {target}
    for relation, _, _ in figures.relations:
        if target in relation:
            around.update(relation)
    return around


class CannotProtect(Exception):
    """Even with everything around it hidden, a figure can be worked out from what the rules alone
    say (an area of a handful of people): the table cannot be published."""


def protect(frame: pl.DataFrame, rules: TableRules, thresholds=None) -> pl.DataFrame:
    """`frame` with its counts controlled (primary and secondary) and its rates recomputed from the
    controlled counts, every controlled column as text. A table that cannot be protected is
    withheld: no rows (the caller reports it)."""
    try:
        figures = controlled_figures(frame, rules, thresholds)
    except CannotProtect:
        return _render(frame.head(0), rules, Figures(frame.head(0), rules, thresholds))
    return _render(frame, rules, figures)


def controlled_figures(frame: pl.DataFrame, rules: TableRules, thresholds=None) -> Figures:
    """The figures of `frame` after primary and secondary suppression: none can be worked out."""
    figures = Figures(frame, rules, thresholds)
    attacker = Attacker(figures)
    # Hiding more only widens what the attacker can infer, so a figure once safe stays safe: only
    # the pinned ones need asking again after each secondary suppression.
    pinned = attacker.pinned_among([i for i, f in enumerate(figures.figures) if f.true])
    while pinned:
        chosen = _to_hide(figures, pinned[0], attacker)
        figures.figures[chosen].state = SECONDARY
        pinned = attacker.pinned_among(pinned)
    return figures


def _to_hide(figures: Figures, target: int, attacker: Attacker) -> int:
    """The figure to hide next so that `target` cannot be worked out: the smallest shown one among
    its relations (not a total, where there is a choice); else a 0 there; else the smallest shown
    figure related to it at all."""
    around = _neighbours(figures, target)
    same_group = [i for i, c in enumerate(attacker.component) if c == attacker.component[target]]
    for pool, state in ((around, SHOWN), (around, ZERO), (same_group, SHOWN), (same_group, ZERO)):
        candidates = [i for i in pool if figures.figures[i].state == state and figures.figures[i].true is not None]
        if candidates:
            return min(candidates, key=lambda i: (figures.figures[i].key[0] == ALL, figures.figures[i].true))
    raise CannotProtect(f"a {figures.figures[target].column} figure can be worked out whatever else is hidden")


def _render(frame: pl.DataFrame, rules: TableRules, figures: Figures) -> pl.DataFrame:
    rows = frame.to_dicts()
    counts = {c.column for c in rules.counts}
    text = counts | {r.column for r in rules.rates} | {d.column for d in rules.derived}
    schema = {name: (pl.String if name in text else dtype) for name, dtype in frame.schema.items()}
    if not rows:
        return pl.DataFrame(schema=schema)
    for row in rows:
        row["_published"] = {c: figures.shown(figures.figure_of(c, row)) for c in counts}
    for rate in rules.rates:
        totals: dict[tuple, int | None] = {}
        if rate.denominator is None:
            for row in rows:
                key = tuple(row[k] for k in rate.within)
                shown = row["_published"][rate.numerator]
                if shown is not None:
                    totals[key] = None if shown == SUPPRESSED or totals.get(key, 0) is None else totals.get(key, 0) + int(shown)
        for row in rows:
            if rate.denominator is None:
                total = totals.get(tuple(row[k] for k in rate.within))
                denominator = SUPPRESSED if total is None else str(total)
            else:
                denominator = row["_published"][rate.denominator]
            row[rate.column] = _rate(row["_published"][rate.numerator], denominator, rate)
    for row in rows:  # all from the row as it was: a derived figure may replace a column another one reads
        row.update({figure.column: _derived(row, figure) for figure in rules.derived})
    for row in rows:
        row.update(row.pop("_published"))
    return pl.DataFrame(rows, schema=schema)


def _derived(row: dict, figure: Derived) -> str | None:
    published = [row["_published"][c] for c in figure.counts]
    if SUPPRESSED in published:
        return SUPPRESSED
    if any(value is None for value in published):
        return None
    value = figure.compute({**{v: row[v] for v in figure.values}, **dict(zip(figure.counts, map(int, published)))})
    return None if value is None or not np.isfinite(value) else str(round(float(value), figure.decimals))


def _rate(numerator: str | None, denominator: str | None, rate: Rate) -> str | None:
    if numerator is None or denominator is None:
        return None
    if SUPPRESSED in (numerator, denominator):
        return SUPPRESSED
    if int(denominator) == 0:
        return None
    value = round(rate.scale * int(numerator) / int(denominator), rate.decimals)
    return str(value)


def published(table: str, frame: pl.DataFrame, thresholds=None) -> pl.DataFrame:
    """The disclosure-controlled copy of output table `table` for `metrics/published/`;
    `thresholds` (`cohorts.hiu.Thresholds`, the defaults when not given) are the run's."""
    from metrics.published import PUBLISHED_RULES  # the rules of each file sit beside their tables' names

    if table not in PUBLISHED_RULES:
        raise KeyError(f"no disclosure rules for {table}: every published file needs them")
    if thresholds is None:
        from cohorts.hiu import Thresholds

        thresholds = Thresholds()
    return protect(frame, PUBLISHED_RULES[table], thresholds)
