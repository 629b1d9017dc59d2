"""The published metric files against an attacker (issue 8, domain.md "Disclosure control").

Small areas of people are generated, the metric tables are built with the real builders, and
`metrics.disclosure.published(table, frame)` makes the copy for `metrics/published/`. The test then
plays an attacker who holds only that copy and knows the rules of the method and of the domain, and
asks an integer program (scipy's `milp`, HiGHS) whether any value other than the true one of every
count cell is consistent with everything published (its feasible range has more than one value):

- a count published as `r` (a multiple of 5) is truly `r-2 .. r+2`; `0` is 0; `*` is 1 to 7;
- the ALL rows are the sums of the neighbourhood rows (a neighbourhood without a frailty row has
  nobody there);
- service_concentration: `population`, `himsu_people` and `any_hiu_people` are the same number on
  each service's row; hiu_people <= any_hiu_people <= population; himsu_people <= any_hiu_people;
  any_hiu_people <= sum of hiu_people <= any_hiu_people + 2 * himsu_people, and
  >= any_hiu_people + himsu_people; each high intensity user has at least the threshold (GP 20, ED 5,
  admissions 3) and everyone else at most threshold - 1; HIMSU people are over two thresholds;
- frailty_summary: hiu_people <= people; each high intensity user is over one threshold, everyone
  else under all three.

A published rate, percentage or mean must be `*` (or blank) or follow from the published counts of
its row at the precision it is printed with (people_pct_of_age_band: of the sum of the published
counts of its neighbourhood's age band); then it tells the attacker nothing the counts do not, so it
is not a constraint of its own.

The attacker knows the method's rules and which of them hid each `*` (they are public, and a
hidden activity beside a hidden people count is plainly the few-people rule's): a `*` for a count
of 1 to 7 is 1 to 7; activity of 1 to 7 people is hidden whatever its size, so its `*` is "0 or
more"; a count hidden only to protect another (secondary suppression) is 8 or more (0 or more when a
zero was hidden).

Every true count of 1 or more must keep at least two possible values.
"""

from __future__ import annotations

import math
from collections import defaultdict

import duckdb
import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from cohorts.hiu import Thresholds, build_person_intensity
from metrics.frailty_summary import build_frailty_summary
from metrics.service_concentration import build_service_concentration

THRESHOLD = {"gp": 20, "ed": 5, "admissions": 3}
ACTIVITY = {"gp": "gp_appointments_12m", "ed": "ed_attendances_12m", "admissions": "emergency_admissions_12m"}
LCM = 60  # of the thresholds: sum(activity * 60 / threshold) >= 60 for anyone over one of them
UPPER = 50_000  # the attacker's bound on any count of a neighbourhood (far above anything generated)

SC_KEYS = ("neighbourhood_code", "service")
SC_COUNTS = ("population", "hiu_people", "activity_total", "activity_hiu", "himsu_people", "activity_himsu", "any_hiu_people")
SC_PER_NEIGHBOURHOOD = ("population", "himsu_people", "any_hiu_people")
SC_RATES = {  # rate: (numerator, denominator, scale)
    "hiu_people_pct": ("hiu_people", "population", 100),
    "activity_hiu_pct": ("activity_hiu", "activity_total", 100),
    "mean_per_person_all": ("activity_total", "population", 1),
    "mean_per_person_himsu": ("activity_himsu", "himsu_people", 1),
}
FS_KEYS = ("neighbourhood_code", "age_band", "efi_category")
FS_COUNTS = ("people", "hiu_people", "gp_appointments_12m", "ed_attendances_12m", "emergency_admissions_12m")


def published(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    from metrics.disclosure import published as publish  # the interface issue 8 adds

    return publish(table, frame)


# ----------------------------------------------------------------------------------------------
# the area: people with activity skewed so that many are over the thresholds and cells are small
# ----------------------------------------------------------------------------------------------

person = st.tuples(
    st.one_of(st.integers(0, 6), st.integers(17, 26)),  # GP appointments (threshold 20)
    st.one_of(st.integers(0, 2), st.integers(4, 7)),  # ED attendances (5)
    st.one_of(st.integers(0, 1), st.integers(2, 4)),  # emergency admissions (3)
    st.sampled_from([40, 66, 71, 74, 76, 80, 84, 86, 93]),  # age
    st.sampled_from(["fit", "mild", "moderate", "severe"]),
)
area = st.tuples(st.lists(st.lists(person, max_size=60), min_size=1, max_size=4), st.booleans())


def metric_tables(neighbourhoods: list[list[tuple]], scored: bool) -> dict[str, pl.DataFrame]:
    rows = []
    for n, people in enumerate(neighbourhoods):
        for i, (gp, ed, admissions, age, category) in enumerate(people):
            rows.append((f"n{n}p{i}", f"n{n}", f"Neighbourhood {n}", age, gp, ed, admissions, category if scored else None))
    frame = pl.DataFrame(
        rows,
        schema={
            "person_id": pl.String, "neighbourhood_code": pl.String, "neighbourhood_name": pl.String, "age": pl.Int64,
            "gp_appointments_12m": pl.Int64, "ed_attendances_12m": pl.Int64, "emergency_admissions_12m": pl.Int64,
            "efi_category": pl.String,
        },
        orient="row",
    )
    practices = pl.DataFrame(
        {"practice_code": [f"P{n}" for n in range(len(neighbourhoods))],
         "neighbourhood_code": [f"n{n}" for n in range(len(neighbourhoods))],
         "neighbourhood_name": [f"Neighbourhood {n}" for n in range(len(neighbourhoods))]}
    )
    conn = duckdb.connect()
    try:
        conn.register("people", frame)
        conn.register("practices", practices)
        conn.execute("CREATE TABLE person_activity_12m AS SELECT * EXCLUDE (efi_category) FROM people")
        conn.execute("CREATE TABLE stg_practices AS SELECT * FROM practices")
        conn.execute("CREATE TABLE efi_scores AS SELECT person_id, efi_category FROM people WHERE age >= 65")
        build_person_intensity(conn, Thresholds())
        build_service_concentration(conn)
        build_frailty_summary(conn)
        return {t: conn.sql(f"SELECT * FROM {t}").pl() for t in ("service_concentration", "frailty_summary")}
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# the attacker
# ----------------------------------------------------------------------------------------------


class Attack:
    """Integer variables for the true count cells of one published file, and linear constraints."""

    def __init__(self, truth: pl.DataFrame, shown: pl.DataFrame, keys: tuple[str, ...], counts: tuple[str, ...],
                 of_people: dict[str, str]):
        self.keys = keys
        self.of_people = of_people
        true_rows = {tuple(r[k] for k in keys): r for r in truth.iter_rows(named=True)}
        shown_rows = {tuple(r[k] for k in keys): r for r in shown.iter_rows(named=True)}
        assert set(shown_rows) == set(true_rows), "the published copy must hold the rows of the table, no more, no fewer"
        self.columns = [c for c in counts if c in shown.columns]
        assert self.columns, f"the published copy holds none of the count columns {counts}"
        self.shown_rows = shown_rows
        self.index: dict[tuple, int] = {}
        self.few_people: set[int] = set()  # activity cells of 1 to 7 people
        self.truth: list[int] = []
        self.cells: list[tuple[tuple, str, int, str | None]] = []
        for key, row in true_rows.items():
            for column in self.columns:
                self.index[(key, column)] = len(self.truth)
                self.truth.append(int(row[column]))
                value = shown_rows[key][column]
                self.cells.append((key, column, int(row[column]), None if value is None else str(value)))
                people = of_people.get(column)
                if people is not None and 1 <= int(row[people]) <= 7:
                    self.few_people.add(len(self.truth) - 1)
        self.rows: list[tuple[dict[int, float], float, float, str]] = []
        self.lower, self.upper = self._bounds()

    def check_rules(self) -> None:
        """Every cell is published as the method's rules say."""
        for i, (key, column, true, shown) in enumerate(self.cells):
            where = f"{column} of {key}: true {true}, published {shown!r}"
            if i in self.few_people:
                assert shown == "*", f"{where}: activity of 1 to 7 people is published as *"
            elif true == 0:
                assert shown in ("0", "*"), f"{where}: a zero is published as 0 (or hidden)"
            elif true <= 7:
                assert shown == "*", f"{where}: counts of 1 to 7 are published as *"
            else:
                assert shown == "*" or (
                    shown is not None and shown.isdigit() and int(shown) % 5 == 0 and abs(int(shown) - true) <= 2
                ), f"{where}: a count of 8 or more is * or rounded to the nearest 5"

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = [], []
        for i, (key, column, true, shown) in enumerate(self.cells):
            assert true <= UPPER, f"{column} of {key}: above the attacker's bound (test data too large)"
            if shown == "0":
                low, high = 0, 0
            elif shown != "*":
                low, high = max(0, int(shown) - 2), int(shown) + 2
            elif i in self.few_people:  # hidden whatever its size
                low, high = 0, UPPER
            elif 1 <= true <= 7:
                low, high = 1, 7
            else:  # secondary suppression of a count that would have been shown
                low, high = (8 if true else 0), UPPER
            lower.append(low), upper.append(high)
        return np.array(lower, dtype=float), np.array(upper, dtype=float)

    def var(self, key: tuple, column: str) -> int | None:
        return self.index.get((key, column))

    def add(self, terms: list[tuple[float, int | None]], lo: float, hi: float, what: str) -> None:
        """sum(coefficient * variable) in [lo, hi]; skipped when a cell is not in the published file."""
        if any(v is None for _, v in terms):
            return
        coefficients: dict[int, float] = defaultdict(float)
        for a, v in terms:
            coefficients[v] += a
        self.rows.append((dict(coefficients), lo, hi, what))

    def check_truth(self) -> None:
        truth = np.array(self.truth)
        assert np.all(self.lower <= truth) and np.all(truth <= self.upper), "test bug: a true count outside its published range"
        for coefficients, lo, hi, what in self.rows:
            value = sum(a * truth[v] for v, a in coefficients.items())
            assert lo - 1e-9 <= value <= hi + 1e-9, f"test bug: the attacker's rule '{what}' does not hold for the truth"

    def feasible(self, x: np.ndarray) -> bool:
        if np.any(x < self.lower) or np.any(x > self.upper):
            return False
        return all(lo - 1e-6 <= sum(a * x[v] for v, a in c.items()) <= hi + 1e-6 for c, lo, hi, _ in self.rows)

    def recovered(self) -> list[tuple]:
        """The cells with a true count of 1 or more that only one value fits."""
        self.check_truth()
        n = len(self.truth)
        matrix = lil_matrix((max(len(self.rows), 1), n))
        lo = np.zeros(max(len(self.rows), 1))
        hi = np.zeros(max(len(self.rows), 1))
        for r, (coefficients, low, high, _) in enumerate(self.rows):
            for v, a in coefficients.items():
                matrix[r, v] = a
            lo[r], hi[r] = low, high
        constraints = LinearConstraint(matrix.tocsr(), lo, hi)
        truth = np.array(self.truth)
        open_cells = {i for i in range(n) if truth[i] >= 1}

        def solve(objective: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
            """True when a solution exists; every open cell it gives another value is settled."""
            result = milp(objective, integrality=np.ones(n), bounds=Bounds(lower, upper), constraints=constraints,
                          options={"disp": False, "time_limit": 20})
            if result.x is None:
                return False
            x = np.round(result.x)
            if self.feasible(x):
                open_cells.difference_update({i for i in open_cells if x[i] != truth[i]})
            return result.status == 0

        for sign in (-1.0, 1.0):  # push every open cell up at once, then down: most are settled here
            if open_cells:
                objective = np.zeros(n)
                objective[list(open_cells)] = sign
                assert solve(objective, self.lower, self.upper), "the attacker's program has no solution: test bug"
        for i in sorted(open_cells):
            if i not in open_cells:
                continue
            for low, high in ((self.lower[i], truth[i] - 1), (truth[i] + 1, self.upper[i])):  # another value?
                if low <= high:
                    lower, upper = self.lower.copy(), self.upper.copy()
                    lower[i], upper[i] = low, high
                    if solve(np.zeros(n), lower, upper):
                        open_cells.discard(i)
                        break
        return [self.cells[i] for i in sorted(open_cells)]


def service_concentration_attack(truth: pl.DataFrame, shown: pl.DataFrame) -> Attack:
    attack = Attack(truth, shown, SC_KEYS, SC_COUNTS,
                    {"activity_total": "population", "activity_hiu": "hiu_people", "activity_himsu": "himsu_people"})
    v = attack.var
    codes = sorted({r["neighbourhood_code"] for r in truth.iter_rows(named=True)})
    services = list(THRESHOLD)
    for code in codes:
        first = (code, services[0])
        for service in services[1:]:
            for column in SC_PER_NEIGHBOURHOOD:
                attack.add([(1, v(first, column)), (-1, v((code, service), column))], 0, 0, f"{column} same on every row")
        pop, himsu, anyone = v(first, "population"), v(first, "himsu_people"), v(first, "any_hiu_people")
        attack.add([(1, himsu), (-1, anyone)], -math.inf, 0, "himsu <= any hiu")
        attack.add([(1, anyone), (-1, pop)], -math.inf, 0, "any hiu <= population")
        hiu_terms = []
        himsu_activity = []
        for service in services:
            key, t = (code, service), THRESHOLD[service]
            hiu, total, act_hiu, act_himsu = (v(key, c) for c in ("hiu_people", "activity_total", "activity_hiu", "activity_himsu"))
            hiu_terms.append((1, hiu))
            himsu_activity.append((LCM // t, act_himsu))
            attack.add([(1, hiu), (-1, anyone)], -math.inf, 0, "hiu <= any hiu")
            attack.add([(1, hiu), (-1, pop)], -math.inf, 0, "hiu <= population")
            attack.add([(1, act_hiu), (-t, hiu)], 0, math.inf, "hiu activity >= threshold * hiu people")
            attack.add([(1, act_hiu), (-1, total)], -math.inf, 0, "hiu activity <= all activity")
            attack.add([(1, act_himsu), (-1, total)], -math.inf, 0, "himsu activity <= all activity")
            attack.add([(1, total), (-1, act_hiu), (-(t - 1), pop), (t - 1, hiu)], -math.inf, 0,
                       "everyone else is under the threshold")
            attack.add([(1, act_hiu), (-UPPER, hiu)], -math.inf, 0, "no hiu people, no hiu activity")
            attack.add([(1, act_himsu), (-UPPER, himsu)], -math.inf, 0, "no himsu people, no himsu activity")
            attack.add([(1, act_himsu), (-1, act_hiu), (-(t - 1), himsu)], -math.inf, 0,
                       "himsu people under this threshold have at most threshold - 1")
        attack.add([*hiu_terms, (-1, anyone)], 0, math.inf, "any hiu <= sum of hiu")
        attack.add([*hiu_terms, (-1, anyone), (-1, himsu)], 0, math.inf, "himsu counted at least twice")
        attack.add([*hiu_terms, (-1, anyone), (-2, himsu)], -math.inf, 0, "nobody counted more than three times")
        attack.add([*himsu_activity, (-2 * LCM, himsu)], 0, math.inf, "himsu people are over two thresholds")
    parts = [c for c in codes if c != "ALL"]
    for service in services:
        for column in attack.columns:
            attack.add([(1, v(("ALL", service), column)), *[(-1, v((c, service), column)) for c in parts]], 0, 0,
                       f"ALL {column} is the sum")
    return attack


def frailty_summary_attack(truth: pl.DataFrame, shown: pl.DataFrame) -> Attack:
    attack = Attack(truth, shown, FS_KEYS, FS_COUNTS,
                    {c: "people" for c in ("gp_appointments_12m", "ed_attendances_12m", "emergency_admissions_12m")})
    v = attack.var
    keys = [tuple(r[k] for k in FS_KEYS) for r in truth.iter_rows(named=True)]
    for key in keys:
        people, hiu = v(key, "people"), v(key, "hiu_people")
        gp, ed, admissions = v(key, "gp_appointments_12m"), v(key, "ed_attendances_12m"), v(key, "emergency_admissions_12m")
        attack.add([(1, hiu), (-1, people)], -math.inf, 0, "hiu <= people")
        attack.add([(LCM // 20, gp), (LCM // 5, ed), (LCM // 3, admissions), (-LCM, hiu)], 0, math.inf,
                   "each hiu is over one threshold")
        for activity, t in ((gp, 20), (ed, 5), (admissions, 3)):
            attack.add([(1, activity), (-(t - 1), people), (t - 1, hiu), (-UPPER, hiu)], -math.inf, 0,
                       "everyone else is under every threshold")
    for code, band, category in keys:
        if code != "ALL":
            continue
        parts = [k for k in keys if k[0] != "ALL" and k[1:] == (band, category)]
        for column in attack.columns:
            attack.add([(1, v((code, band, category), column)), *[(-1, v(k, column)) for k in parts]], 0, 0,
                       f"ALL {column} is the sum")
    return attack


# ----------------------------------------------------------------------------------------------
# rates: shown only as what the published counts give
# ----------------------------------------------------------------------------------------------


def number(shown) -> int | None:
    return int(shown) if shown is not None and str(shown).isdigit() else None


def check_rate(shown, numerator, denominator, scale: float, where: str) -> None:
    if shown is None or str(shown) in ("", "*"):
        return
    text = str(shown)
    assert numerator is not None and denominator, f"{where}: {text} shown although its counts are not published"
    decimals = len(text.split(".")[1]) if "." in text else 0
    exact = scale * numerator / denominator
    assert abs(float(text) - exact) <= 0.5 * 10 ** -decimals + 1e-9, (
        f"{where}: {text} is not {numerator}/{denominator} of the published counts ({exact:.4f}): built on the true counts?"
    )


def check_rates(table: str, shown: pl.DataFrame) -> None:
    rows = list(shown.iter_rows(named=True))
    if table == "service_concentration":
        for row in rows:
            for rate, (num, den, scale) in SC_RATES.items():
                if rate in row:
                    check_rate(row[rate], number(row.get(num)), number(row.get(den)), scale,
                               f"{rate} of {row['neighbourhood_code']}/{row['service']}")
        return
    bands: dict[tuple, list] = defaultdict(list)
    for row in rows:
        bands[(row["neighbourhood_code"], row["age_band"])].append(number(row.get("people")))
    for row in rows:
        if "people_pct_of_age_band" in row:
            band = bands[(row["neighbourhood_code"], row["age_band"])]
            total = None if any(p is None for p in band) else sum(band)
            check_rate(row["people_pct_of_age_band"], number(row.get("people")), total, 100,
                       f"people_pct_of_age_band of {row['neighbourhood_code']}/{row['age_band']}/{row['efi_category']}")


# ----------------------------------------------------------------------------------------------
# the properties
# ----------------------------------------------------------------------------------------------

ATTACKS = {"service_concentration": service_concentration_attack, "frailty_summary": frailty_summary_attack}


@settings(max_examples=60, deadline=None)
@given(area)
def test_no_published_count_can_be_recovered_and_rates_follow_the_published_counts(generated):
    neighbourhoods, scored = generated
    for table, truth in metric_tables(neighbourhoods, scored).items():
        shown = published(table, truth)
        assert all(dtype == pl.String for c, dtype in shown.schema.items() if c in (*SC_COUNTS, *FS_COUNTS)), (
            f"{table}: published counts are text cells ('0', '*', multiples of 5)"
        )
        check_rates(table, shown)
        if shown.height == 0:  # withheld whole: nothing to attack
            assert shown.columns == truth.columns
            continue
        attack = ATTACKS[table](truth, shown)
        attack.check_rules()
        recovered = attack.recovered()
        assert not recovered, f"{table}: the attacker recovers (cell, column, true, published) {recovered[:10]}"


def test_the_attacker_finds_what_the_unprotected_rounding_gives_away():
    """The attack is able to fail: a copy with counts rounded and nothing else done gives away a
    single high intensity user (GP activity 22, published 20: only one person can be over 20)."""
    truth = metric_tables([[(22, 0, 0, 40, "fit")] + [(0, 0, 0, 40, "fit")] * 9], True)["service_concentration"]

    def rounded(value: int) -> str:
        return "0" if value == 0 else "*" if value <= 7 else str((value + 2) // 5 * 5)

    naive = truth.with_columns(pl.col(c).map_elements(rounded, return_dtype=pl.String) for c in SC_COUNTS)
    found = {(key, column) for key, column, _, _ in service_concentration_attack(truth, naive).recovered()}
    assert (("n0", "gp"), "hiu_people") in found
