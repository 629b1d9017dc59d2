"""Calibrated parameters of the activity model.

Tuned (Nelder-Mead on the counting figures, then by hand, over seeds 1-4 at the 465,000 scale) so
that the BCP service concentration figures of domain.md land mid-band; calibrate.py checks them from
the written files. They act together: change one and re-run calibrate.py on two or three seeds.

How the figures arise:
- Each service's own heavy tail (sigma, and for ED and admissions a small heavy-use group) sets the
  share of people over its threshold and the share of activity they account for.
- A small complex-needs group (0.05% of people, adults) has a large extra rate of every service:
  they are most of the HIMSU, which is why HIMSU averages are so high (36 GP, 9 ED, 5.5 admissions).
- Outside that group services are only mildly correlated (shared need loadings ~0.15, and a care-
  seeking style that pulls GP and hospital use apart), because the published figures show little
  overlap: HIMSU are 0.09% of people against 4.8% high intensity users of any service.
- Soft caps keep single people from absurd rates (and HIMSU means from swinging with one person).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Service:
    knots: tuple          # (age, annual rate) curve for men; a shape, the intercept sets the level
    female: tuple         # (age, multiplier for women) curve
    intercept: float      # log-scale shift
    load: float           # loading on the shared latent need
    sigma: float          # spread of the service's own person effect (log scale)
    persist: float        # share of that own-effect variance that persists across periods
    complex_add: float = 0.0    # annual rate added for the complex-needs group (whatever their age)
    tail_share: float = 0.0     # share of people in the service's own heavy-use group
    tail_boost: float = 0.0     # their log rate multiplier
    style: float = 0.0          # loading on care-seeking style (+ GP-oriented, - hospital-oriented)
    old_sigma: float = 1.0      # own-effect spread at 85+ relative to under-60s
    cap: float = 0.0            # soft ceiling of the annual rate (0 = none)


@dataclass(frozen=True)
class Latent:
    weight_persistent: float = 0.72   # share of shared-need variance fixed for the person
    rho: float = 0.70                 # half-year autocorrelation of the moving part
    deprivation: float = 0.30         # need shift from least to most deprived decile (half each way)
    complex_share: float = 0.0005     # adults with complex needs: heavy users of every service
    complex_need: float = 1.0         # their extra shared need (frailty, social care, mortality)
    rising_share: float = 0.04        # people whose need climbs through the window
    rising_slope: float = 0.22        # climb per half-year


@dataclass(frozen=True)
class Params:
    latent: Latent = field(default_factory=Latent)
    gp: Service = Service(
        knots=((0, 5.2), (3, 3.8), (8, 2.2), (15, 2.4), (25, 2.8), (45, 4.2), (60, 5.6), (70, 7.2),
               (80, 9.4), (90, 11.5), (105, 12.0)),
        female=((0, 1.0), (14, 1.05), (18, 1.55), (35, 1.5), (55, 1.3), (70, 1.08), (90, 1.0)),
        intercept=-0.515, load=0.15, sigma=0.88, persist=0.65, complex_add=46.0,
        style=0.5, old_sigma=0.7, cap=80.0,
    )
    ed: Service = Service(
        knots=((0, 0.50), (4, 0.30), (10, 0.20), (18, 0.36), (25, 0.32), (45, 0.24), (65, 0.26),
               (75, 0.36), (85, 0.60), (95, 0.80), (105, 0.8)),
        female=((0, 0.9), (15, 1.0), (45, 0.95), (80, 1.0)),
        intercept=-0.74, load=0.13, sigma=1.10, persist=0.6, complex_add=10.45,
        tail_share=0.0035, tail_boost=3.25, cap=40.0,
    )
    adm: Service = Service(
        knots=((0, 0.10), (3, 0.05), (10, 0.025), (18, 0.045), (40, 0.05), (55, 0.065), (65, 0.10),
               (75, 0.18), (85, 0.33), (95, 0.45), (105, 0.45)),
        female=((0, 0.9), (16, 1.15), (45, 1.0), (70, 0.9), (90, 0.95)),
        intercept=-1.43, load=0.15, sigma=1.60, persist=0.6, complex_add=7.5,
        tail_share=0.113, tail_boost=1.163, style=-0.5, cap=15.0,
    )
    # Share of planned follow-up (category 4) ED attendances on top of the counted ones.
    ed_planned_ratio: float = 0.055
    # Share of emergency admissions through this provider's ED (method 21).
    via_ed_share: float = 0.72
    # Share of those method-21 spells that get a same-day ED attendance in the ED extract. Kept low
    # because the published figures show little overlap between ED and admission heavy users.
    ed_link_share: float = 0.2
    # Need loading of the mortality hazard.
    death_load: float = 0.55
    # Scale of the HFRS-code probability of secondary diagnoses (sets the HFRS spread at 75+; it
    # follows the need of the admission's half-year, which varies more than the person's average).
    hfrs_scale: float = 0.97
    # Social care propensity: overall scale, loading on need, and multiplier for complex needs
    # (together they set involvement overall and among HIMSU, about half of whom are involved).
    social_care_scale: float = 0.8
    social_care_need: float = 0.9
    social_care_complex: float = 25.0
