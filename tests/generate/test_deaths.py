"""Deaths in generated data follow the age a person has on the day, so that death rates by age band
(and the deaths in hospital among emergency admissions) hold steady through the window and the
counterfactual metrics see no change nobody put there."""
from __future__ import annotations

from datetime import date

import numpy as np

from pipeline.generate.people import NONE, People, apply_deaths
from pipeline.generate.timeline import make_calendar

CAL = make_calendar(date(2025, 3, 31), 36)
YEAR = 365


def women_aged(age_on_as_of: int, n: int) -> People:
    """n women registered long before the window, all `age_on_as_of` on the as-of date."""
    full = lambda value, dtype: np.full(n, value, dtype=dtype)  # noqa: E731 - compact constructor
    return People(
        n=n, practice=full(0, np.int32), lsoa=full(0, np.int32), imd=full(5, np.int32), imd_filled=full(5, np.int32),
        sex=full(0, np.int8), age=full(age_on_as_of, np.int32), birth_year=full(2025 - age_on_as_of, np.int32),
        birth_month=full(1, np.int32), birth_day=full(0, np.int32), reg_start=full(CAL.start - 5000, np.int32),
        reg_end=full(NONE, np.int32), death=full(NONE, np.int32),
    )


def death_risk(people: People, first_day: int, last_day: int) -> float:
    """Share of those alive on `first_day` who die by `last_day`."""
    alive = people.death >= first_day
    return float(((people.death <= last_day) & alive).sum() / alive.sum())


def test_a_year_of_age_carries_the_same_risk_whenever_it_is_lived():
    # Women 80 on the as-of date lived their 80th year of model age over the last 12 months; women
    # 81 on it lived the same year of age over the 12 months before. Same age, same risk.
    n = 300_000
    younger, older = women_aged(80, n), women_aged(81, n)
    apply_deaths(younger, CAL, np.ones(n), np.random.default_rng(1))
    apply_deaths(older, CAL, np.ones(n), np.random.default_rng(2))
    last_year = death_risk(younger, CAL.end - YEAR + 1, CAL.end)
    year_before = death_risk(older, CAL.end - 2 * YEAR + 1, CAL.end - YEAR)
    assert last_year > 0.02
    assert abs(year_before / last_year - 1) < 0.04, (year_before, last_year)


def test_the_risk_still_rises_with_age():
    n = 200_000
    at_70, at_90 = women_aged(70, n), women_aged(90, n)
    apply_deaths(at_70, CAL, np.ones(n), np.random.default_rng(3))
    apply_deaths(at_90, CAL, np.ones(n), np.random.default_rng(4))
    assert death_risk(at_90, CAL.start, CAL.end) > 4 * death_risk(at_70, CAL.start, CAL.end)
