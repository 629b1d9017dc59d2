"""Synthetic extract drops for the HIU pipeline (contract section 2), calibrated to BCP figures.

    from pipeline.generate import generate_drop
    summary = generate_drop(population=465_000, seed=1, out=Path("data/sample"))

`population` is the number of rows of the population extract: everyone registered at some time in
the window. About 91% of them are in the population on the as-of date (the others died or moved
away during the window). The same seed and arguments give the same tables (and byte-identical
Parquet files).
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from . import columns as col
from .activity import ed_attendances, gp_appointments
from .admissions import build_admissions
from .diagnoses import admission_diagnoses
from .frailty import coded_events, frailty_propensity, medications
from .geography import Geography, make_geography
from .intensity import draw_counts, draw_need, need_multiplier
from .params import Params
from .people import NONE, SEX_CODES, People, apply_deaths, make_people
from .programme import make_programme
from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS

from .reference import load_efi, load_hfrs
from .social_care import build_social_care
from .timeline import make_calendar
from .util import hex_tokens, splitmix64, stage_rng
from .writer import EXTRACTS, DropWriter, clear_extracts

__all__ = ["generate_drop", "Params", "EXTRACTS"]

# The programme's cut in the ED attendances and emergency admissions of people 65 and over once
# their neighbourhood is live: modest (Derbyshire's over-75s: admissions grew 6% where 12.8% was expected).
PROGRAMME_EFFECT = 0.10

_STAGES = ["reference data", "geography and people", "activity rates", "practices and population",
           "GP appointments", "admissions and ED", "admission diagnoses", "social care",
           "GP coded events", "GP medications", "finishing writes"]


def _person_tokens(n: int, seed: int) -> pa.Array:
    """Pseudonymous 16-hex-character ids: a bijective mix of (row, seed), so unique by construction,
    unrelated to row order, and never anything like an NHS number."""
    key = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        return hex_tokens(splitmix64(np.arange(n, dtype=np.uint64) + key))


def _practices_table(geo: Geography, icbs: int = 0) -> pa.Table:
    nbh = geo.practice_nbh
    go_live = [geo.nbh_go_live[k] for k in nbh.tolist()]
    # Integrated care boards, when asked for: whole neighbourhoods dealt out in turn (ICB01, ICB02, ...).
    icb = {"icb_code": pa.array([f"ICB{k % icbs + 1:02d}" for k in nbh.tolist()], pa.string())} if icbs else {}
    return pa.table({
        "practice_code": pa.array(geo.practice_code, pa.string()),
        "practice_name": pa.array(geo.practice_name, pa.string()),
        "pcn_code": pa.array([geo.pcn_code[p] for p in geo.practice_pcn.tolist()], pa.string()),
        "pcn_name": pa.array([geo.pcn_name[p] for p in geo.practice_pcn.tolist()], pa.string()),
        "neighbourhood_code": pa.array([geo.nbh_code[k] for k in nbh.tolist()], pa.string()),
        "neighbourhood_name": pa.array([geo.nbh_name[k] for k in nbh.tolist()], pa.string()),
        "int_go_live_date": col.dates(np.array([0 if d is None else d for d in go_live], dtype=np.int64),
                                      np.array([d is None for d in go_live])),
        **icb,
    })


def _population_table(p: People, geo: Geography, tokens: pa.Array) -> pa.Table:
    return pa.table({
        "person_id": tokens,
        "sex": col.codes(SEX_CODES, p.sex),
        "birth_year": col.ints(p.birth_year),
        "birth_month": col.ints(p.birth_month),
        "practice_code": col.codes(geo.practice_code, p.practice),
        "lsoa_code": col.codes(geo.lsoa_code, np.maximum(p.lsoa, 0), p.lsoa < 0),
        "imd_decile": col.ints(p.imd, p.imd == 0),
        "registration_start": col.dates(p.reg_start),
        "registration_end": col.dates(p.reg_end, p.reg_end == NONE),
        "date_of_death": col.dates(p.death, p.death == NONE),
    })


def generate_drop(population: int, seed: int, out: Path, months: int = 36,
                  end_date: date = date(2025, 3, 31), file_format: str = "parquet", progress: bool = True,
                  efi_codes: Path = EFI_DEFICIT_CODES, hfrs_weights: Path = HFRS_ICD10_WEIGHTS, params: Params | None = None,
                  programme_effect: float = PROGRAMME_EFFECT, icbs: int = 0) -> dict:
    """Write a complete synthetic extract drop into `out`; return a summary of what was written."""
    if population < 1:
        raise ValueError("population must be at least 1")
    if months < 12:
        raise ValueError("months must be at least 12 (the counting window is 12 months)")
    params = params or Params()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_extracts(out)
    writer = DropWriter(out, file_format)
    timings: dict[str, float] = {}
    bar = tqdm(total=len(_STAGES), desc="generate", unit="stage", disable=not progress)
    clock = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 3)
        clock[0] = now
        bar.set_postfix_str(stage)
        bar.update(1)

    # Stage seeds are fixed numbers, so each stage's draws are independent of the others.
    try:
        efi, hfrs = load_efi(Path(efi_codes)), load_hfrs(Path(hfrs_weights))
        done(_STAGES[0])

        cal = make_calendar(end_date, months)
        geo = make_geography(population, stage_rng(seed, 1), cal.end)
        people = make_people(population, geo, cal, stage_rng(seed, 2))
        done(_STAGES[1])

        need = draw_need(people, cal, params, stage_rng(seed, 3))
        apply_deaths(people, cal, need_multiplier(need, params.death_load), stage_rng(seed, 4))
        counts = draw_counts(people, need, cal, params, stage_rng(seed, 5))
        frail = need.mean()
        done(_STAGES[2])

        tokens = _person_tokens(population, seed)
        writer.single("practices", _practices_table(geo, icbs))
        writer.single("population", _population_table(people, geo, tokens))
        done(_STAGES[3])

        writer.by_year("gp_appointments", gp_appointments(people, counts, cal, tokens, geo.practice_code,
                                                          stage_rng(seed, 6)), "appointment_date", end_date.year)
        done(_STAGES[4])

        programme = make_programme(programme_effect, people, geo)
        spells = build_admissions(people, counts, cal, tokens, frail, params.via_ed_share,
                                  params.ed_link_share, stage_rng(seed, 7), programme, stage_rng(seed, 13))
        writer.single("admissions", spells.table)
        linked = spells.via_ed
        writer.single("ed_attendances", ed_attendances(people, counts, cal, tokens, spells.person[linked],
                                                       spells.admit[linked], stage_rng(seed, 8), programme,
                                                       stage_rng(seed, 14)))
        heaviness = counts.heaviness
        del counts
        done(_STAGES[5])

        frail_then = need.by_period[spells.person, cal.period_of(spells.admit)]
        writer.single("admission_diagnoses", admission_diagnoses(spells, people, frail_then, hfrs, params.hfrs_scale,
                                                                 stage_rng(seed, 9)))
        del spells
        done(_STAGES[6])

        writer.single("social_care_events", build_social_care(people, need, heaviness, cal, tokens, params,
                                                              stage_rng(seed, 10)))
        done(_STAGES[7])

        theta = frailty_propensity(people, frail, heaviness)
        writer.single("gp_coded_events", coded_events(people, theta, need.by_period, cal, efi, tokens, stage_rng(seed, 11)))
        done(_STAGES[8])

        writer.single("gp_medications", medications(people, theta, frail, cal, tokens, stage_rng(seed, 12)))
        done(_STAGES[9])
    finally:
        writer.close()  # waits for the pending writes (and re-raises their errors)
        done(_STAGES[10])
        bar.close()

    in_pop = (people.reg_start <= cal.end) & (people.reg_end == NONE) & (people.death == NONE)
    return {
        "out": str(out),
        "format": file_format,
        "seed": seed,
        "population_rows": population,
        "population_on_end_date": int(in_pop.sum()),
        "window_start": str(np.datetime64(cal.start, "D")),
        "window_end": str(np.datetime64(cal.end, "D")),
        "months": months,
        "rows": dict(writer.rows),
        "files": dict(writer.files),
        "reference_files": {"efi": str(efi_codes), "hfrs": str(hfrs_weights)},
        "neighbourhoods": len(geo.nbh_code),
        "programme": programme.summary(),
        "practices": len(geo.practice_code),
        "pcns": len(geo.pcn_code),
        "seconds": timings,
    }
