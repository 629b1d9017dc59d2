"""Hospital provider spells: emergency, elective, maternity, births, transfers, and deaths in hospital.

Length of stay is heavy tailed and longer for the old; about a quarter of emergency spells are
same-day. A spell that would outlast the window has no discharge date (destination 98); one that
would outlast the person's registration is cut to the day before it ends. People who die in the
window often die in hospital: they get a final emergency spell discharged on the day of death with
destination 79, so that date_of_death = discharge_date for them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import codes as C
from . import columns as col
from .activity import expand
from .timeline import Calendar
from .intensity import Counts, exposure
from .people import NONE, People
from .programme import Programme
from .util import choice_index, day_order, interp_age, numbered_ids

KIND_EMERGENCY, KIND_ELECTIVE, KIND_MATERNITY, KIND_OTHER, KIND_BIRTH, KIND_DEATH = range(6)
METHODS = C.EMERGENCY_METHODS + C.ELECTIVE_METHODS + C.MATERNITY_METHODS + C.OTHER_METHODS + ["82", "83"]


@dataclass
class Spells:
    """What later stages (diagnoses, ED links) need to know about each spell, in table order."""
    table: pa.Table
    person: np.ndarray
    kind: np.ndarray
    admit: np.ndarray
    via_ed: np.ndarray          # bool: method 21 with a linked ED attendance to generate


def _emergency_los(age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    same_day = rng.random(age.shape[0]) < interp_age(age, [(0, 0.34), (40, 0.30), (70, 0.22), (90, 0.16)])
    mu = np.log(2.0) + 0.014 * np.clip(age - 40, 0, None)
    los = 1 + np.floor(np.exp(mu + 0.95 * rng.standard_normal(age.shape[0])))
    return np.where(same_day, 0, np.minimum(los, 300)).astype(np.int32)


def _method_index(kind: np.ndarray, age: np.ndarray, via_ed_share: float, rng: np.random.Generator) -> np.ndarray:
    n = kind.shape[0]
    w = np.asarray(C.EMERGENCY_OTHER_WEIGHTS, dtype=float)
    w = w / w.sum() * (1 - via_ed_share)
    w[0] = via_ed_share
    em = choice_index(rng, w, n)
    baby = (age == 0) & (rng.random(n) < 0.05)
    em = np.where(baby & (em != 0), C.EMERGENCY_METHODS.index("2C"), em)
    off_el = len(C.EMERGENCY_METHODS)
    off_mat = off_el + len(C.ELECTIVE_METHODS)
    off_oth = off_mat + len(C.MATERNITY_METHODS)
    off_birth = off_oth + len(C.OTHER_METHODS)
    out = np.select(
        [kind == KIND_EMERGENCY, kind == KIND_ELECTIVE, kind == KIND_MATERNITY, kind == KIND_OTHER,
         kind == KIND_BIRTH, kind == KIND_DEATH],
        [em, off_el + choice_index(rng, C.ELECTIVE_WEIGHTS, n), off_mat + choice_index(rng, C.MATERNITY_WEIGHTS, n),
         off_oth + choice_index(rng, C.OTHER_WEIGHTS_ADM, n),
         off_birth + (rng.random(n) < 0.04).astype(np.int32), np.where(rng.random(n) < 0.8, 0, em)],
    )
    return out.astype(np.int32)


def build_admissions(people: People, counts: Counts, cal: Calendar, tokens: pa.Array, frail: np.ndarray,
                     via_ed_share: float, ed_link_share: float, rng: np.random.Generator,
                     programme: Programme | None = None, programme_rng: np.random.Generator | None = None) -> Spells:
    lo, hi, _ = exposure(people, cal, "adm")
    parts = [
        expand(counts.adm_emergency, lo, hi, cal, "adm", rng),
        expand(counts.adm_elective, lo, hi, cal, "gp", rng),  # elective lists run on weekdays
        expand(counts.adm_maternity, lo, hi, cal, "flat", rng),
        expand(counts.adm_other, lo, hi, cal, "adm", rng),
    ]
    # Births in the window: born in hospital (82) or outside it (83), admitted on the birth day.
    born = np.flatnonzero((people.birth_day >= cal.start) & (people.reg_start == people.birth_day)
                          & (rng.random(people.n) < 0.97))
    parts.append((born.astype(np.int32), people.birth_day[born]))
    # Deaths in hospital: about half of deaths, more for those with high need (frail).
    died = people.death != NONE
    p_hosp = np.clip(0.38 + 0.12 * frail, 0.2, 0.75)
    dih = np.flatnonzero(died & (rng.random(people.n) < p_hosp))
    parts.append((dih.astype(np.int32), people.death[dih]))  # admission day set below

    person = np.concatenate([p for p, _ in parts])
    admit = np.concatenate([d for _, d in parts]).astype(np.int64)
    kind = np.repeat(np.arange(6, dtype=np.int8), [p.shape[0] for p, _ in parts])
    del parts
    n = person.shape[0]
    age = people.age[person]

    los = _emergency_los(np.maximum(age - (cal.end - admit) / 365.25, 0), rng)  # stays lengthen with age, on the day
    day_case = rng.random(n) < 0.78
    los = np.where(kind == KIND_ELECTIVE, np.where(day_case, 0, 1 + np.floor(rng.exponential(2.2, n))), los)
    los = np.where(kind == KIND_MATERNITY, np.floor(rng.exponential(1.1, n)), los)
    los = np.where(kind == KIND_BIRTH, np.floor(rng.exponential(0.9, n)), los).astype(np.int64)

    # Deaths in hospital: admitted `los` days before death, not before registration or the window.
    is_death = kind == KIND_DEATH
    floor_day = np.maximum(people.reg_start[person].astype(np.int64), cal.start)
    admit = np.where(is_death, np.maximum(admit - los, floor_day), admit)
    # Other spells end before registration does (moving away, death); a death spell ends on the
    # day of death.
    last_ok = people.active_end()[person].astype(np.int64) - 1
    discharge = np.where(is_death, people.death[person], np.minimum(admit + los, np.maximum(last_ok, admit)))
    open_spell = (discharge > cal.end) & ~is_death

    old = age >= 75
    d_young = choice_index(rng, C.DISCHARGE_YOUNG, n)
    d_old = choice_index(rng, C.DISCHARGE_OLD, n)
    dest = np.where(old, d_old, d_young)
    dest = np.where((kind == KIND_BIRTH) | (kind == KIND_MATERNITY), 0, dest)  # home
    dest = np.where(is_death, C.DISCHARGE_DEST.index("79"), dest)
    dest = np.where(open_spell, C.DISCHARGE_DEST.index("98"), dest)
    no_dest = (rng.random(n) < 0.004) & ~is_death & ~open_spell  # a few not recorded

    method = _method_index(kind, age, via_ed_share, rng)
    provider = choice_index(rng, C.PROVIDER_WEIGHTS, n)
    provider = np.where(method == C.EMERGENCY_METHODS.index("25"), C.PROVIDERS.index("RDY"), provider)

    order = day_order(admit)
    person, kind, admit, discharge, method = person[order], kind[order], admit[order], discharge[order], method[order]
    open_spell, dest, no_dest, provider = open_spell[order], dest[order], no_dest[order], provider[order]
    table = pa.table({
        "spell_id": numbered_ids("APC", np.arange(1, n + 1), 9),
        "person_id": col.lookup(tokens, person),
        "admission_date": col.dates(admit),
        "discharge_date": col.dates(discharge, open_spell),
        "admission_method": col.codes(METHODS, method),
        "discharge_destination": col.codes(C.DISCHARGE_DEST, dest, no_dest),
        "provider_code": col.codes(C.PROVIDERS, provider),
    })
    via_ed = (method == 0) & (rng.random(n) < ed_link_share)  # "21" with its ED record in the extract
    if programme is not None:
        # The programme prevents some emergency admissions (and the ED visits that led to them). Taken
        # out last, so every other spell is the one it would have been without the programme.
        candidate = np.flatnonzero(kind == KIND_EMERGENCY)
        kept = np.ones(n, dtype=bool)
        kept[candidate] = programme.keep("emergency_admissions", person[candidate], admit[candidate], people, cal, programme_rng)
        # a prevented admission through ED needed no ED visit either: its (counted) attendance goes too
        with_ed = ~kept & via_ed
        programme.tally("ed_attendances", person[with_ed], admit[with_ed], cal)
        table, person, kind, admit, via_ed = table.filter(pa.array(kept)), person[kept], kind[kept], admit[kept], via_ed[kept]
    return Spells(table=table, person=person, kind=kind, admit=admit.astype(np.int32), via_ed=via_ed)
