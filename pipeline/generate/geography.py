"""Neighbourhoods, PCNs, practices and LSOAs of the synthetic BCP area.

Sizes scale with the requested population: about one practice per 9,000 people (at least one per
neighbourhood) and one LSOA per 1,600. Neighbourhood shares are uneven (30k to 70k people at the
465k BCP scale), and each has its own deprivation level and age tilt (Christchurch older, Central
Bournemouth younger and more deprived), so that neighbourhood figures differ as real ones do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .util import add_months, choice_index

# name, code, population share, mean IMD decile of its LSOAs, age tilt (+ = older)
NEIGHBOURHOODS = [
    ("Poole Central", "poole-central", 0.125, 4.6, 0.0),
    ("Shore Medical (Poole)", "shore-medical-poole", 0.085, 7.4, 0.25),
    ("Poole Bay & Bournemouth", "poole-bay-bournemouth", 0.115, 7.0, 0.15),
    ("Castleman", "castleman", 0.080, 6.4, 0.1),
    ("South Coast Medical", "south-coast-medical", 0.100, 5.6, 0.05),
    ("North Bournemouth", "north-bournemouth", 0.150, 5.2, 0.0),
    ("Central Bournemouth", "central-bournemouth", 0.130, 3.4, -0.35),
    ("Christchurch", "christchurch", 0.110, 6.8, 0.4),
    ("Bournemouth East", "bournemouth-east", 0.105, 4.4, -0.1),
]

PEOPLE_PER_PRACTICE = 9000
PEOPLE_PER_LSOA = 1600

_PRACTICE_STEMS = [
    "Harbourside", "Parkstone", "Canford", "Branksome", "Alderney", "Lilliput", "Hamworthy",
    "Oakdale", "Broadstone", "Merley", "Westbourne", "Boscombe", "Southbourne", "Pokesdown",
    "Winton", "Moordown", "Kinson", "Charminster", "Springbourne", "Littledown", "Highcliffe",
    "Mudeford", "Stanpit", "Burton", "Tuckton", "Throop", "Ensbury", "Talbot", "Wallisdown",
    "Creekmoor", "Sandbanks", "Penn Hill", "Lower Parkstone", "Queens Park", "Iford", "Purewell",
    "Somerford", "Bearwood", "Redhill", "Northbourne", "Holdenhurst", "Canford Heath",
]
_PRACTICE_SUFFIX = ["Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Group Practice"]
_PCN_SUFFIX = ["", " North", " South", " East", " West", " Central"]


@dataclass
class Geography:
    practice_code: list[str]
    practice_name: list[str]
    practice_pcn: np.ndarray          # practice -> pcn index
    practice_nbh: np.ndarray          # practice -> neighbourhood index
    practice_weight: np.ndarray       # relative list size
    pcn_code: list[str]
    pcn_name: list[str]
    nbh_code: list[str]
    nbh_name: list[str]
    nbh_go_live: list[int | None]     # day number or None
    nbh_imd_mean: np.ndarray
    nbh_age_tilt: np.ndarray
    lsoa_code: list[str]
    lsoa_nbh: np.ndarray
    lsoa_imd: np.ndarray


def _split(total: int, shares: np.ndarray, minimum: int) -> np.ndarray:
    """Whole numbers proportional to shares (largest remainder), each at least `minimum`."""
    raw = shares / shares.sum() * total
    out = np.maximum(np.floor(raw).astype(int), minimum)
    for i in np.argsort(-(raw - np.floor(raw)), kind="stable"):
        if out.sum() >= total:
            break
        out[i] += 1
    return out


def make_geography(population: int, rng: np.random.Generator, end_day: int) -> Geography:
    names = [n[0] for n in NEIGHBOURHOODS]
    codes = [n[1] for n in NEIGHBOURHOODS]
    shares = np.array([n[2] for n in NEIGHBOURHOODS])
    n_nbh = len(names)

    n_practices = _split(max(n_nbh, round(population / PEOPLE_PER_PRACTICE)), shares, 1)
    total_practices = int(n_practices.sum())
    practice_nbh = np.repeat(np.arange(n_nbh), n_practices)
    # list sizes vary a lot between practices (3k to 25k in real life)
    within = rng.lognormal(0.0, 0.45, total_practices)
    practice_weight = np.empty(total_practices)
    for k in range(n_nbh):  # nine neighbourhoods, not people
        sel = practice_nbh == k
        practice_weight[sel] = shares[k] * within[sel] / within[sel].sum()

    # Codes like the real Dorset ones (J81xxx), shuffled so that code order says nothing.
    if total_practices <= 999:
        numbers = rng.permutation(999)[:total_practices] + 1
        practice_code = [f"J81{x:03d}" for x in numbers.tolist()]
    else:
        numbers = rng.permutation(99999)[:total_practices] + 1
        practice_code = [f"J8{x:05d}" for x in numbers.tolist()]
    stems = rng.permutation(len(_PRACTICE_STEMS))
    practice_name = []
    for i in range(total_practices):
        stem = _PRACTICE_STEMS[stems[i % len(stems)]]
        lap = i // len(stems)
        suffix = _PRACTICE_SUFFIX[(i + lap) % len(_PRACTICE_SUFFIX)]
        practice_name.append(f"{stem} {suffix}" + (f" {lap + 1}" if lap else ""))

    # PCNs: groups of up to five practices inside a neighbourhood.
    practice_pcn = np.empty(total_practices, dtype=np.int32)
    pcn_code, pcn_name = [], []
    pcn_numbers = rng.permutation(90000)[: total_practices] + 10000
    for k in range(n_nbh):
        idx = np.flatnonzero(practice_nbh == k)
        n_pcn = int(np.ceil(idx.shape[0] / 5))
        for j in range(n_pcn):
            practice_pcn[idx[j::n_pcn]] = len(pcn_code)
            pcn_code.append(f"U{pcn_numbers[len(pcn_code)]}")
            base = names[k].replace(" (Poole)", "")
            pcn_name.append(f"{base}{_PCN_SUFFIX[j % len(_PCN_SUFFIX)] if n_pcn > 1 else ''} PCN")

    # Go-live dates: most neighbourhoods went live in the last 18 months (each in its own month,
    # at least 3 months before the end so there is a post period); one or two are not live yet.
    n_null = 1 + int(rng.random() < 0.5)
    not_live = set(rng.choice(n_nbh, n_null, replace=False).tolist())
    months_back = rng.choice(np.arange(3, 19), n_nbh - n_null, replace=False)
    month_ends = add_months(end_day + 1, 0)  # first day after the window
    go_live: list[int | None] = []
    j = 0
    for k in range(n_nbh):
        if k in not_live:
            go_live.append(None)
        else:
            first = int(add_months(month_ends, -int(months_back[j])))
            # first of that month
            d = np.int64(first).astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
            go_live.append(int(d.astype(np.int64)))
            j += 1

    # LSOAs, each with an IMD decile scattered around its neighbourhood's level.
    n_lsoa = _split(max(3 * n_nbh, round(population / PEOPLE_PER_LSOA)), shares, 3)
    lsoa_nbh = np.repeat(np.arange(n_nbh), n_lsoa)
    imd_mean = np.array([n[3] for n in NEIGHBOURHOODS])
    lsoa_imd = np.clip(np.rint(rng.normal(imd_mean[lsoa_nbh], 2.0)), 1, 10).astype(np.int32)
    gaps = rng.integers(1, 4, lsoa_nbh.shape[0])
    lsoa_num = 15000 + np.cumsum(gaps)
    if lsoa_num[-1] > 999999:  # only for absurd populations; keep the pattern valid
        lsoa_num = 1 + np.arange(lsoa_nbh.shape[0])
    lsoa_code = [f"E01{x:06d}" for x in lsoa_num.tolist()]

    return Geography(
        practice_code=practice_code,
        practice_name=practice_name,
        practice_pcn=practice_pcn,
        practice_nbh=practice_nbh.astype(np.int32),
        practice_weight=practice_weight,
        pcn_code=pcn_code,
        pcn_name=pcn_name,
        nbh_code=codes,
        nbh_name=names,
        nbh_go_live=go_live,
        nbh_imd_mean=imd_mean,
        nbh_age_tilt=np.array([n[4] for n in NEIGHBOURHOODS]),
        lsoa_code=lsoa_code,
        lsoa_nbh=lsoa_nbh.astype(np.int32),
        lsoa_imd=lsoa_imd,
    )


def assign_practices(geo: Geography, n: int, rng: np.random.Generator) -> np.ndarray:
    return choice_index(rng, geo.practice_weight, n)


def assign_lsoas(geo: Geography, practice: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each person lives in an LSOA of their practice's neighbourhood (uniform among them)."""
    nbh = geo.practice_nbh[practice]
    counts = np.bincount(geo.lsoa_nbh, minlength=len(geo.nbh_code))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (first[nbh] + np.floor(rng.random(practice.shape[0]) * counts[nbh]).astype(np.int64)).astype(np.int32)
