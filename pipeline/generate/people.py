"""The registered population: who, where, how old, and when they were registered and alive.

Ages follow a BCP-like pyramid (about 24% aged 65+ and 11% aged 75+ on the as-of date), tilted
older or younger by neighbourhood. Most people registered long before the window; some arrive
during it (births, young adults moving in), about 5% move away during it, and deaths are drawn
from an age- and need-dependent hazard (see `apply_deaths`), so that some people have activity
but are not in the population on the as-of date.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timeline import Calendar
from .geography import Geography, assign_lsoas, assign_practices
from .util import interp_age, month_start

NONE = np.int32(np.iinfo(np.int32).max)  # "no date" sentinel for registration_end / date_of_death

# Share of the as-of population by five-year band 0-4, 5-9, ..., 85-89, 90+ (BCP-like: older than
# England, with a student bulge at 18-24 in Bournemouth). Deaths and leavers thin the old a little,
# hence slightly heavier old bands here than the as-of target.
AGE_BANDS = np.array([
    4.4, 4.9, 5.2, 5.4, 6.8, 6.1, 6.0, 5.8, 5.5, 5.6, 6.4, 6.6, 6.0,  # 0-64
    6.5, 6.8, 5.3, 3.7, 2.3, 1.6,                                        # 65-69 .. 90+
])
SEX_CODES = ["F", "M", "U"]


@dataclass
class People:
    n: int
    practice: np.ndarray      # int32 index into geography practices
    lsoa: np.ndarray          # int32 index into geography LSOAs, -1 = null
    imd: np.ndarray           # int32 decile, 0 = null
    imd_filled: np.ndarray    # decile used by the model when the recorded one is null
    sex: np.ndarray           # int8 index into SEX_CODES
    age: np.ndarray           # int32 age on the as-of date (the model's age)
    birth_year: np.ndarray
    birth_month: np.ndarray
    birth_day: np.ndarray     # int32 day number (birth day, used only for newborns' registration)
    reg_start: np.ndarray     # int32 day number
    reg_end: np.ndarray       # int32 day number or NONE
    death: np.ndarray         # int32 day number or NONE (set by apply_deaths)

    def active_end(self) -> np.ndarray:
        """First day with no activity: the earlier of moving away and death (NONE if neither)."""
        return np.minimum(self.reg_end, self.death)

    def period_bounds(self, cal: Calendar) -> tuple[np.ndarray, np.ndarray]:
        """Registered-and-alive days [lo, hi) of each person in each period, int32 (n, P).

        Cached: several stages need it and it is 2 x n x P integers; apply_deaths resets it."""
        key = (cal.start, cal.end)
        if getattr(self, "_bounds_key", None) != key:
            lo = np.maximum(cal.bounds[None, :-1], self.reg_start[:, None].astype(np.int64))
            hi = np.minimum(cal.bounds[None, 1:], self.active_end()[:, None].astype(np.int64))
            self._bounds = (lo.astype(np.int32), np.maximum(hi, lo).astype(np.int32))
            self._bounds_key = key
        return self._bounds

GOMPERTZ_SLOPE = 0.0985  # log annual death risk per year of age


def make_people(n: int, geo: Geography, cal: Calendar, rng: np.random.Generator) -> People:
    practice = assign_practices(geo, n, rng)
    lsoa = assign_lsoas(geo, practice, rng)
    imd = geo.lsoa_imd[lsoa].astype(np.int32)
    imd_filled = imd.copy()
    no_lsoa = rng.random(n) < 0.003          # address not matched to an LSOA
    no_imd = no_lsoa | (rng.random(n) < 0.002)
    lsoa = np.where(no_lsoa, -1, lsoa).astype(np.int32)
    imd = np.where(no_imd, 0, imd).astype(np.int32)

    # Age band with a neighbourhood tilt towards old (positive) or young (negative).
    nbh = geo.practice_nbh[practice]
    band = np.empty(n, dtype=np.int32)
    u = rng.random(n)
    slope = (np.arange(AGE_BANDS.shape[0]) - 9) / 9
    for k in range(len(geo.nbh_code)):  # nine neighbourhoods
        sel = nbh == k
        w = AGE_BANDS * np.exp(0.6 * geo.nbh_age_tilt[k] * slope)
        cdf = np.cumsum(w / w.sum())
        cdf[-1] = 1.0
        band[sel] = np.searchsorted(cdf, u[sel], side="right")
    top = AGE_BANDS.shape[0] - 1
    age = band * 5 + np.floor(rng.random(n) * 5).astype(np.int32)
    old = band == top
    age[old] = 90 + np.minimum(np.floor(rng.exponential(3.6, int(old.sum()))), 15).astype(np.int32)
    age = np.minimum(age, cal.as_of.year - 1890).astype(np.int32)

    # Sex: more women at older ages; a very small share recorded as U (unknown / indeterminate).
    p_f = interp_age(age, [(0, 0.488), (60, 0.50), (70, 0.52), (80, 0.56), (90, 0.66), (100, 0.75)])
    sex = np.where(rng.random(n) < p_f, 0, 1).astype(np.int8)
    sex[rng.random(n) < 0.0005] = 2

    birth_month = rng.integers(1, 13, n).astype(np.int32)
    birth_year = (cal.as_of.year - age - (cal.as_of.month < birth_month)).astype(np.int32)
    first = month_start(birth_year, birth_month)
    birth_day = np.minimum(first + np.floor(rng.random(n) * 28), cal.end).astype(np.int32)

    # Registration start. Newborns register at birth; others either arrived during the window
    # (more often young adults) or registered years before it.
    p_arrive = interp_age(age, [(0, 0.05), (17, 0.06), (19, 0.16), (30, 0.12), (45, 0.06), (65, 0.035), (100, 0.03)])
    arrive = rng.random(n) < p_arrive
    long_ago = cal.start - 1 - np.floor(rng.exponential(12 * 365.25, n)).astype(np.int64)
    in_window = cal.start + np.floor(rng.random(n) * cal.n_days).astype(np.int64)
    reg_start = np.where(arrive, in_window, long_ago)
    reg_start = np.maximum(reg_start, birth_day)
    newborn = birth_day >= cal.start
    reg_start = np.where(newborn, birth_day, reg_start).astype(np.int32)

    # Moving away during the window (more often young adults and students).
    p_move = interp_age(age, [(0, 0.045), (17, 0.05), (20, 0.11), (30, 0.09), (45, 0.045), (65, 0.025), (100, 0.02)])
    move = rng.random(n) < p_move
    lo = np.maximum(reg_start.astype(np.int64) + 1, cal.start)
    move &= lo <= cal.end
    end_day = lo + np.floor(rng.random(n) * np.maximum(cal.end - lo + 1, 1)).astype(np.int64)
    reg_end = np.where(move, end_day, NONE).astype(np.int32)

    return People(
        n=n, practice=practice, lsoa=lsoa, imd=imd, imd_filled=imd_filled, sex=sex, age=age,
        birth_year=birth_year, birth_month=birth_month, birth_day=birth_day,
        reg_start=reg_start, reg_end=reg_end, death=np.full(n, NONE, dtype=np.int32),
    )


def apply_deaths(people: People, cal: Calendar, need_mult: np.ndarray, rng: np.random.Generator) -> None:
    """Draw deaths in the window from a Gompertz annual risk at the person's age on the day, scaled
    by their need.

    need_mult is exp(latent need) normalised to mean about 1, so high users and the frail die
    more often, as they do in life; it is what makes some heavy users vanish before the as-of date.
    The risk rises with age through the window (a hazard fixed at the age on the as-of date would
    make a 77-year-old three years before it die as an 80-year-old: death rates by age band would
    fall year on year, and with them the deaths in hospital among emergency admissions, which the
    counterfactual metrics would take for an effect nobody put there).
    """
    age = people.age.astype(np.float64)
    q = np.exp(-10.9 + GOMPERTZ_SLOPE * age)
    q = np.where(age < 1, 0.004, q)
    q = np.where(people.sex == 1, q * 1.22, q * 0.84)
    hazard_at_end = -np.log1p(-np.minimum(q, 0.6)) * need_mult  # per year, at the age on the as-of date
    # Ageing b per year multiplies the hazard by exp(-b s) s years before the end (b = 0 where the
    # risk does not follow the curve: infants, and the capped oldest).
    b = np.where((age >= 1) & (q < 0.6), GOMPERTZ_SLOPE, 0.0)
    t0 = np.maximum(people.reg_start.astype(np.int64), cal.start)
    s0 = (cal.end + 1 - t0) / 365.25  # years from the start of exposure to the end of the window
    e = rng.exponential(1.0, people.n)  # the cumulative hazard a person dies at
    # Invert H(s) = h/b (exp(-b s) - exp(-b s0)) = e for s, the years before the end they die.
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(b > 0, e * b / hazard_at_end + np.exp(-b * s0), 1.0)
        s = np.where(b > 0, -np.log(inside) / np.where(b > 0, b, 1.0), s0 - e / hazard_at_end)
    t = cal.end + 1 - np.ceil(s * 365.25).astype(np.int64)
    t = np.where(np.isfinite(s) & (s > 0), t, np.iinfo(np.int64).max)
    limit = np.minimum(people.reg_end.astype(np.int64), cal.end + 1)
    dies = (t < limit) & (t > people.reg_start)
    people.death = np.where(dies, t, NONE).astype(np.int32)
    # the dead do not also move away later
    people.reg_end = np.where(dies, NONE, people.reg_end).astype(np.int32)
    people._bounds_key = None
