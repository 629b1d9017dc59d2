"""Per-person latent need and per-period activity counts.

A latent need per person and half-year drives GP, ED and emergency admission rates jointly (so heavy
users of one service lean towards heavy use of another), and also frailty, social care and
mortality. It has a persistent part (who you are, rising with deprivation), an AR(1) moving part
(regression to the mean, and people whose use climbs) and a small group whose need climbs steadily
("rising risk"). Each service adds its own partly persistent person effect (most of each service's
heavy tail), and a small complex-needs group gets extra use of every service (most of the HIMSU).
A care-seeking style pulls GP and hospital use apart, as the published figures need (see params.py).
Counts are Poisson given the rate and the person's exposure in the period (registered, alive,
weighted by the service's weekday and winter rhythm).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timeline import Calendar
from .params import Params, Service
from .people import People
from .util import interp_age


@dataclass
class Need:
    persistent: np.ndarray    # float32 (n,) persistent shared need
    by_period: np.ndarray     # float32 (n, P) shared need per period
    complex_: np.ndarray      # bool (n,)
    style: np.ndarray         # float32 (n,) care-seeking style: + GP-oriented, - hospital-oriented

    def mean(self) -> np.ndarray:
        return self.by_period.mean(axis=1)


def draw_need(people: People, cal: Calendar, params: Params, rng: np.random.Generator) -> Need:
    lat = params.latent
    n, n_p = people.n, cal.n_periods
    dep = lat.deprivation * (5.5 - people.imd_filled) / 9.0
    # complex needs: adults only, a little more common in old age
    complex_w = interp_age(people.age, [(15, 0.0), (16, 1.0), (64, 1.0), (65, 1.3), (100, 1.3)])
    complex_ = rng.random(n) < lat.complex_share * complex_w / max(complex_w.mean(), 1e-9)
    z = rng.standard_normal(n) + dep + lat.complex_need * complex_
    moving = np.empty((n, n_p), dtype=np.float32)
    moving[:, 0] = rng.standard_normal(n)
    innov = np.sqrt(1 - lat.rho**2)
    for k in range(1, n_p):  # a handful of periods, vectorised over people
        moving[:, k] = lat.rho * moving[:, k - 1] + innov * rng.standard_normal(n)
    h = np.sqrt(lat.weight_persistent) * z[:, None] + np.sqrt(1 - lat.weight_persistent) * moving
    # Rising group: need climbs linearly from a random start period onwards.
    rising = rng.random(n) < lat.rising_share
    onset = rng.integers(0, max(n_p - 1, 1), n)
    steps = np.clip(np.arange(n_p)[None, :] - onset[:, None], 0, None)
    h = h + (rising[:, None] * lat.rising_slope * steps)
    # Care-seeking style: some people take their needs to their practice, others to hospital. It
    # loads with opposite signs on GP and hospital use, which keeps the heavy users of each apart
    # outside the complex-needs core (HIMSU are rare: 0.09% against 4.8% HIU of any service).
    style = rng.standard_normal(n)
    return Need(persistent=z.astype(np.float32), by_period=h.astype(np.float32), complex_=complex_,
                style=style.astype(np.float32))


def years_before_end(cal: Calendar) -> np.ndarray:
    """Years from the middle of each period to the as-of date, float (P,)."""
    middle = (cal.bounds[:-1] + cal.bounds[1:]) / 2.0
    return (cal.end + 1 - middle) / 365.25


def _base_rate(svc: Service, people: People, cal: Calendar) -> np.ndarray:
    """Annual rate per person and period at the person's age in that period (float32 (n, P)): a
    person's use grows as they age through the window, so a neighbourhood's rate by age band holds
    steady over time (an age on the as-of date used throughout would make rates by age band fall,
    year on year, by the age gradient: a drift the counterfactual metrics would call an effect)."""
    age = np.maximum(people.age[:, None] - years_before_end(cal)[None, :], 0.0).astype(np.float32)
    rate = interp_age(age, list(svc.knots)).astype(np.float32)
    fem = interp_age(age, list(svc.female)).astype(np.float32)
    return rate * np.where((people.sex == 0)[:, None], fem, np.float32(1.0)) * np.float32(np.exp(svc.intercept))


def service_rates(svc: Service, people: People, need: Need, cal: Calendar, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Annual rate per person and period, float32 (n, P), and the person's persistent own
    heaviness of use of the service (standard normal, +2 in the heavy-use group), float32 (n,)."""
    n, n_p = need.by_period.shape
    heavy = rng.standard_normal(n)
    own = np.sqrt(svc.persist) * heavy[:, None] + np.sqrt(1 - svc.persist) * rng.standard_normal((n, n_p))
    sigma = svc.sigma * interp_age(people.age, [(60, 1.0), (85, svc.old_sigma)])
    log_mult = svc.load * need.by_period + sigma[:, None] * own + (svc.style * need.style)[:, None]
    if svc.tail_share > 0:
        tail = rng.random(n) < svc.tail_share
        log_mult += (svc.tail_boost * tail)[:, None]
        heavy = heavy + 2.0 * tail
    rate = _base_rate(svc, people, cal) * np.exp(log_mult)
    spread = np.exp(0.35 * rng.standard_normal(n) - 0.06)
    rate += (svc.complex_add * need.complex_ * spread)[:, None]
    if svc.cap > 0:  # smooth minimum: unchanged well below the cap, tends to the cap above it
        rate = rate / (1 + (rate / svc.cap) ** 4) ** 0.25
    return rate.astype(np.float32), heavy.astype(np.float32)


def exposure(people: People, cal: Calendar, service: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person and period: first day, day after the last, and the share of a year's events."""
    lo, hi = people.period_bounds(cal)
    return lo, hi, cal.exposure(service, lo, hi).astype(np.float32)


@dataclass
class Counts:
    """Event counts per person and period (int32 (n, P)), and what is needed to place them."""
    gp_attended: np.ndarray
    gp_dna: np.ndarray
    gp_unknown: np.ndarray
    ed: np.ndarray            # counted ED attendances (categories 1-3) not linked to an admission
    ed_planned: np.ndarray    # category 4
    adm_emergency: np.ndarray
    adm_elective: np.ndarray
    adm_maternity: np.ndarray
    adm_other: np.ndarray
    heaviness: np.ndarray     # float32 (n,): persistent own heaviness of hospital and GP use combined


def steady_by_age_band(rate: np.ndarray, exposure: np.ndarray, people: People, cal: Calendar) -> np.ndarray:
    """`rate` (n, P) rescaled so that each five-year age band's exposure-weighted mean rate is the
    same in every period as in the last. Without it the population's rates by age band drift: the
    people who die are the ones with the highest need (so the survivors of a band use less each
    year) and the rising-risk group climbs. A programme evaluation on such data would find an
    "effect" nobody put there; with it, rates by age band hold and only the ageing of the
    population (and the programme, `pipeline.generate.programme`) moves activity."""
    band = np.minimum(np.floor(np.maximum(people.age[:, None] - years_before_end(cal)[None, :], 0) / 5), 18).astype(np.int64)
    n_p = rate.shape[1]
    weighted = np.zeros((19, n_p))
    weights = np.zeros((19, n_p))
    for k in range(n_p):
        weighted[:, k] = np.bincount(band[:, k], weights=rate[:, k] * exposure[:, k], minlength=19)
        weights[:, k] = np.bincount(band[:, k], weights=exposure[:, k], minlength=19)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = weighted / weights
        scale = mean[:, -1:] / mean  # to the latest period's rates: the calibrated figures are of the last year
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0).astype(np.float32)
    return rate * scale[band, np.arange(n_p)[None, :]]


def draw_counts(people: People, need: Need, cal: Calendar, params: Params, rng: np.random.Generator) -> Counts:
    age = people.age
    _, _, ex_gp = exposure(people, cal, "gp")
    _, _, ex_ed = exposure(people, cal, "ed")
    _, _, ex_adm = exposure(people, cal, "adm")

    gp, heavy_gp = service_rates(params.gp, people, need, cal, rng)
    gp = steady_by_age_band(gp, ex_gp, people, cal) * ex_gp
    # Non-attendance: more among young adults, less among the old; about 4.1% DNA, 5.9% unknown.
    dna_tilt = interp_age(age, [(0, 0.9), (18, 1.5), (30, 1.4), (50, 0.9), (70, 0.55), (100, 0.6)])
    dna_tilt = dna_tilt * np.exp(0.45 * rng.standard_normal(people.n) - 0.1)
    p_dna = np.clip(0.041 * dna_tilt * 1.15, 0.0, 0.3)  # x1.15: appointments lean to the old, who DNA less
    p_unk = 0.059
    p_att = 1.0 - p_dna - p_unk
    gp_attended = rng.poisson(gp)
    gp_dna = rng.poisson(gp * (p_dna / p_att)[:, None])
    gp_unknown = rng.poisson(gp * (p_unk / p_att)[:, None])
    del gp

    ed, heavy_ed = service_rates(params.ed, people, need, cal, rng)
    ed = steady_by_age_band(ed, ex_ed, people, cal) * ex_ed
    ed_direct = rng.poisson(ed)
    ed_planned = rng.poisson(ed * params.ed_planned_ratio)
    del ed

    adm, heavy_adm = service_rates(params.adm, people, need, cal, rng)
    adm = steady_by_age_band(adm, ex_adm, people, cal) * ex_adm
    adm_emergency = rng.poisson(adm)
    del adm

    # Elective activity rises with age and only mildly with need (it is waiting-list driven).
    el_rate = interp_age(age, [(0, 0.04), (17, 0.035), (30, 0.06), (50, 0.12), (65, 0.22), (78, 0.30), (90, 0.18), (105, 0.1)])
    el = el_rate[:, None] * np.exp(0.25 * need.by_period - 0.03) * ex_adm
    adm_elective = rng.poisson(el)
    mat_rate = np.where(people.sex == 0, interp_age(age, [(15, 0.0), (17, 0.03), (22, 0.12), (30, 0.2), (36, 0.14), (42, 0.04), (46, 0.0)]), 0.0)
    adm_maternity = rng.poisson(mat_rate[:, None] * ex_adm)
    other = 0.007 * np.exp(0.3 * need.by_period) * ex_adm
    adm_other = rng.poisson(other)

    i32 = lambda a: a.astype(np.int32)  # noqa: E731 - compact cast
    return Counts(
        gp_attended=i32(gp_attended), gp_dna=i32(gp_dna), gp_unknown=i32(gp_unknown),
        ed=i32(ed_direct), ed_planned=i32(ed_planned), adm_emergency=i32(adm_emergency),
        adm_elective=i32(adm_elective), adm_maternity=i32(adm_maternity), adm_other=i32(adm_other),
        heaviness=(0.6 * heavy_adm + 0.35 * heavy_ed + 0.25 * heavy_gp).astype(np.float32),
    )


def need_multiplier(need: Need, load: float) -> np.ndarray:
    """exp(load * average need), normalised to mean 1 (scales the mortality hazard)."""
    m = np.exp(load * need.mean().astype(np.float64))
    return m / m.mean()
