"""GP coded events (eFI deficits) and medication issues (polypharmacy).

Each person has a frailty propensity rising steeply with age and with latent need, so that the frail
are the heavy users. Each of the 35 coded deficits is present with probability 1 - exp(-w * theta)
(w: how common the deficit is); a present deficit gets one or more SNOMED codes from its list, dated
"ever recorded" (never before registration or after the end). Codes that belong to two deficits are
drawn a little more often, so that case is well exercised.

Deficits accumulate with the person's trajectory: the deficits present at the end are first
recorded as the person's frailty level (exp(0.62 x need), growing with age) reaches new heights. The
share recorded before the window or in its first half-year is the level then over the highest level
the person reaches; each later period's new high adds its share, dated inside that period. So
someone whose need climbs gets many of their deficits recorded late in the window (fewer at an
earlier feature date), someone whose need is flat gains a few as they age, and the deficits present
at the end (the eFI on the as-of date) are drawn as before.

Medicines: repeat courses of chemical substances (first 9 characters of the BNF code), issued every
4 to 16 weeks while the course runs, plus one-off acute issues; a few appliances (chapters 20-23).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import columns as col
from .timeline import Calendar
from .people import People
from .reference import EfiCodes
from .util import choice_index, day_order, interp_age, piecewise_days, ragged_index

# Relative prevalence of each deficit at frailty propensity 1 (roughly a typical 75-year-old).
DEFICIT_WEIGHTS = {
    1: 0.05, 2: 0.12, 3: 0.42, 4: 0.11, 5: 0.08, 6: 0.14, 7: 0.18, 8: 0.14, 9: 0.13, 10: 0.14,
    11: 0.10, 12: 0.09, 13: 0.28, 14: 0.06, 15: 0.05, 16: 0.04, 17: 0.52, 18: 0.08, 19: 0.18,
    20: 0.09, 21: 0.09, 22: 0.14, 23: 0.05, 24: 0.10, 25: 0.05, 27: 0.05, 28: 0.22, 29: 0.05,
    30: 0.12, 31: 0.08, 32: 0.12, 33: 0.11, 34: 0.12, 35: 0.28, 36: 0.05,
}

# Chemical substances (BNF chars 1-9), relative use, and whether the course is acute (one issue).
SUBSTANCES = [
    ("0212000B0", 0.30, 0), ("0212000Y0", 0.12, 0), ("0205051R0", 0.18, 0), ("0205052N0", 0.08, 0),
    ("0206020A0", 0.22, 0), ("0204000H0", 0.15, 0), ("0202010B0", 0.06, 0), ("0202020L0", 0.10, 0),
    ("0209000A0", 0.10, 0), ("0209000C0", 0.06, 0), ("0208020Z0", 0.05, 0), ("0208020V0", 0.03, 0),
    ("0103050P0", 0.22, 0), ("0103050L0", 0.12, 0), ("0601022B0", 0.09, 0), ("0602010V0", 0.12, 0),
    ("0407010H0", 0.15, 0), ("0407010F0", 0.08, 0), ("0407020B0", 0.04, 0), ("0403030Q0", 0.09, 0),
    ("0403030D0", 0.06, 0), ("0403010B0", 0.06, 0), ("0408010G0", 0.04, 0), ("0301011R0", 0.11, 0),
    ("0302000N0", 0.06, 0), ("0304010I0", 0.04, 0), ("0906040G0", 0.09, 0), ("0906040N0", 0.05, 0),
    ("0704010U0", 0.07, 0), ("1001010P0", 0.04, 0), ("1106000Y0", 0.04, 0), ("1302010AB", 0.06, 0),
    ("0901011P0", 0.04, 0), ("0603020T0", 0.03, 0), ("0106020M0", 0.06, 0), ("0106040M0", 0.05, 0),
    ("0411000D0", 0.02, 0), ("0409010N0", 0.01, 0), ("0803041F0", 0.01, 0), ("0703021Q0", 0.03, 0),
    ("0501013B0", 0.30, 1), ("0501130R0", 0.10, 1), ("0501030I0", 0.08, 1), ("0501050B0", 0.06, 1),
    ("1502010J0", 0.01, 1), ("1404000H0", 0.02, 1),
]
SUFFIXES = ["AAAAAA", "AAABAB", "AAACAC", "AAADAD", "AAAEAE", "BBAAAA"]
APPLIANCES = ["2002030A0AAAAAA", "2102010B0AAABAB", "2201000C0AAACAC", "2301020D0AAAAAA", "2003000E0AAAAAA"]


def frailty_propensity(people: People, need_mean: np.ndarray, heaviness: np.ndarray) -> np.ndarray:
    """Expected-deficit scale: steep with age (about x1.8 per decade over 50), with latent need,
    and with the person's own heaviness of service use, so the frail are the heavy users."""
    age = people.age.astype(np.float64)
    base = interp_age(age, [(0, 0.02), (18, 0.06), (40, 0.18), (50, 0.3), (65, 0.62), (75, 1.0), (85, 1.6), (95, 2.3)])
    return base * np.exp(0.62 * need_mean + 0.45 * heaviness - 0.46)


# Loading of the frailty level on latent need when timing deficits (as in frailty_propensity), and
# its growth with age per half-year (x1.8 a decade, the age curve of frailty_propensity over 50).
TIMING_LOAD = 0.62
AGEING = 0.029


def accumulation(need_by_period: np.ndarray) -> np.ndarray:
    """Share of a person's deficits first recorded before the window or in its first period (column
    0) and in each later period (columns 1..P-1), float32 (n, P), rows summing to 1: the increments
    of the running maximum over the periods of the frailty level exp(TIMING_LOAD x need + AGEING x
    period)."""
    log_level = TIMING_LOAD * need_by_period + AGEING * np.arange(need_by_period.shape[1], dtype=np.float32)
    level = np.exp(log_level - log_level.max(axis=1, keepdims=True))
    high = np.maximum.accumulate(level, axis=1)  # the last column is 1
    return np.diff(high, axis=1, prepend=0.0).astype(np.float32)


def _ever_dates(people: People, who: np.ndarray, share: np.ndarray, cal: Calendar,
                rng: np.random.Generator) -> np.ndarray:
    """A first-recorded day per present deficit, with the person's `accumulation` shares: from
    registration (at most 20 years back, and after age 16 for adults) to the end of the first
    period, or in a later period. A share falling before registration is dated in the first
    registered stretch."""
    lo = np.maximum(people.reg_start[who].astype(np.int64), cal.end - 20 * 365)
    adult_from = people.birth_day[who].astype(np.int64) + 16 * 365
    lo = np.where(people.age[who] >= 30, np.maximum(lo, adult_from), lo)
    hi = np.minimum(people.active_end()[who].astype(np.int64) - 1, cal.end)
    lo = np.minimum(lo, hi)
    # segments: to the end of the first period, then the later periods; clipped to [lo, hi]
    inner = np.broadcast_to(cal.bounds[None, 1:-1], (who.shape[0], cal.n_periods - 1))
    edges = np.clip(np.concatenate([lo[:, None], inner, hi[:, None] + 1], axis=1), lo[:, None], hi[:, None] + 1)
    mass = share[who].astype(np.float64)
    filled = edges[:, 1:] > edges[:, :-1]
    first = np.argmax(filled, axis=1)  # the first segment the person is registered in
    col = np.arange(mass.shape[1])[None, :]
    before = np.take_along_axis(np.cumsum(mass, axis=1), first[:, None], axis=1)
    mass = np.where(col < first[:, None], 0.0, np.where(col == first[:, None], before, mass))
    return piecewise_days(edges, mass, rng.random(who.shape[0]))


def coded_events(people: People, theta: np.ndarray, need_by_period: np.ndarray, cal: Calendar, efi: EfiCodes,
                 tokens: pa.Array, rng: np.random.Generator) -> pa.Table:
    persons, deficits = [], []
    for d in sorted(DEFICIT_WEIGHTS):  # 35 deficits, vectorised over people
        has = rng.random(people.n) < -np.expm1(-DEFICIT_WEIGHTS[d] * theta)
        idx = np.flatnonzero(has).astype(np.int32)
        persons.append(idx)
        deficits.append(np.full(idx.shape[0], d, dtype=np.int16))
    person = np.concatenate(persons)
    deficit = np.concatenate(deficits)
    onset = _ever_dates(people, person, accumulation(need_by_period), cal, rng)

    # 1 + Poisson(0.5) codes per present deficit; repeats dated between onset and the end.
    n_codes = 1 + rng.poisson(0.5, person.shape[0])
    parent, rank = ragged_index(n_codes)
    ev_person = person[parent]
    hi = np.minimum(people.active_end()[ev_person].astype(np.int64) - 1, cal.end)
    first = onset[parent]
    day = np.where(rank == 0, first, first + np.floor(rng.random(parent.shape[0]) * (hi - first + 1))).astype(np.int64)
    code = efi.draw(deficit[parent], rng)
    order = day_order(day)
    return pa.table({
        "person_id": col.lookup(tokens, ev_person[order]),
        "event_date": col.dates(day[order]),
        "snomed_code": pa.DictionaryArray.from_arrays(pa.array(code[order].astype(np.int32)), efi.codes),
    })


def _bnf_dictionary() -> list[str]:
    """Every BNF presentation code the generator can issue: substance x suffix, then appliances."""
    return [s[0] + suf for s in SUBSTANCES for suf in SUFFIXES] + APPLIANCES


def medications(people: People, theta: np.ndarray, need_mean: np.ndarray, cal: Calendar, tokens: pa.Array,
                rng: np.random.Generator) -> pa.Table:
    n = people.n
    # Medicines propensity follows frailty closely (polypharmacy is itself a deficit).
    phi = theta * np.exp(0.15 * rng.standard_normal(n)) * 1.6
    persons, subst = [], []
    for j, (_, w, acute) in enumerate(SUBSTANCES):  # ~45 substances, vectorised over people
        if acute:
            # acute courses: a count over the window, rate rising gently with need
            k = rng.poisson(w * 3 * np.exp(0.35 * need_mean) * np.minimum(theta + 0.3, 2.0))
            idx = np.repeat(np.arange(n, dtype=np.int32), k)
        else:
            idx = np.flatnonzero(rng.random(n) < -np.expm1(-w * phi)).astype(np.int32)
        persons.append(idx)
        subst.append(np.full(idx.shape[0], j, dtype=np.int16))
    person = np.concatenate(persons)
    sub = np.concatenate(subst)
    # no courses for people with no registered days in the window (left on its first day)
    live = people.active_end()[person].astype(np.int64) > np.maximum(people.reg_start[person], cal.start)
    person, sub = person[live], sub[live]
    is_acute = np.array([s[2] for s in SUBSTANCES], dtype=bool)[sub]
    m = person.shape[0]

    lo = np.maximum(people.reg_start[person].astype(np.int64), cal.start)
    hi = np.minimum(people.active_end()[person].astype(np.int64) - 1, cal.end)
    span = np.maximum(hi - lo + 1, 1)
    # Repeat courses: most started before the window and run to its end; some start or stop inside.
    starts_in = rng.random(m) < 0.25
    start = np.where(starts_in, lo + np.floor(rng.random(m) * span), lo)
    stops_in = rng.random(m) < 0.15
    stop = np.where(stops_in, start + np.floor(rng.random(m) * (hi - start + 1)), hi)
    interval = np.array([28, 56, 84, 112])[choice_index(rng, [5, 25, 45, 25], m)]
    start = start + np.floor(rng.random(m) * np.minimum(interval, hi - start + 1))  # phase of the cycle
    start = np.minimum(start, hi)
    stop = np.maximum(stop, start)
    n_issue = np.where(is_acute, 1, (stop - start) // interval + 1).astype(np.int64)
    acute_day = lo + np.floor(rng.random(m) * span)
    start = np.where(is_acute, acute_day, start).astype(np.int64)
    code = sub.astype(np.int32) * len(SUFFIXES) + rng.integers(0, len(SUFFIXES), m).astype(np.int32)

    parent, rank = ragged_index(n_issue)
    jitter = rng.integers(-3, 4, parent.shape[0])
    day = start[parent] + rank * interval[parent] + np.where(rank > 0, jitter, 0)
    day = np.clip(day, lo[parent], hi[parent])
    row_person = person[parent]
    row_code = code[parent]
    del parent, rank, jitter

    # Appliances for some of the frail (dressings, incontinence, stoma): a few issues each.
    k_app = rng.poisson(np.where(people.age >= 70, 0.8, 0.05) * np.minimum(theta, 4) * 0.5)
    app_person = np.repeat(np.arange(n, dtype=np.int32), k_app)
    app_person = app_person[people.active_end()[app_person].astype(np.int64)
                            > np.maximum(people.reg_start[app_person], cal.start)]
    app_lo = np.maximum(people.reg_start[app_person].astype(np.int64), cal.start)
    app_hi = np.minimum(people.active_end()[app_person].astype(np.int64) - 1, cal.end)
    app_day = app_lo + np.floor(rng.random(app_person.shape[0]) * np.maximum(app_hi - app_lo + 1, 1)).astype(np.int64)
    app_code = len(SUBSTANCES) * len(SUFFIXES) + rng.integers(0, len(APPLIANCES), app_person.shape[0])

    all_person = np.concatenate([row_person, app_person])
    all_day = np.concatenate([day, app_day])
    all_code = np.concatenate([row_code, app_code.astype(np.int32)])
    order = day_order(all_day)
    return pa.table({
        "person_id": col.lookup(tokens, all_person[order]),
        "issue_date": col.dates(all_day[order]),
        "bnf_code": col.codes(_bnf_dictionary(), all_code[order]),
    })
