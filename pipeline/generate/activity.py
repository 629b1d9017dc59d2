"""GP appointments and ED attendances, expanded from the per-person, per-period counts.

Rows are created person-major (np.repeat over person-period cells), their days drawn inside the
person's exposure in that period, then stably sorted by day, so ids follow date order.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import codes as C
from . import columns as col
from .timeline import Calendar
from .intensity import Counts, exposure
from .people import People
from .programme import Programme
from .util import choice_index, day_order, interp_age, numbered_ids


def expand(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, cal: Calendar, service: str,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Person index and day of every event, from (n, P) counts and exposure bounds."""
    flat = counts.ravel()
    cells = np.flatnonzero(flat)
    reps = flat[cells]
    cell = np.repeat(cells, reps)
    person = (cell // counts.shape[1]).astype(np.int32)
    day = cal.sample_days(service, lo.ravel()[cell], hi.ravel()[cell], rng.random(cell.shape[0]))
    return person, day


def gp_appointments(people: People, counts: Counts, cal: Calendar, tokens: pa.Array,
                    practice_codes: list[str], rng: np.random.Generator) -> pa.Table:
    lo, hi, _ = exposure(people, cal, "gp")
    parts = [expand(c, lo, hi, cal, "gp", rng) for c in (counts.gp_attended, counts.gp_dna, counts.gp_unknown)]
    person = np.concatenate([p for p, _ in parts])
    day = np.concatenate([d for _, d in parts])
    status = np.repeat(np.arange(3, dtype=np.int8), [p.shape[0] for p, _ in parts])
    del parts
    order = day_order(day)
    person, day, status = person[order], day[order], status[order]
    del order
    n = person.shape[0]

    # Mode by age group: home visits are mostly for the old, video mostly for working ages.
    group = np.searchsorted(C.MODE_AGE_EDGES, people.age[person], side="right")
    mode = np.empty(n, dtype=np.int32)
    u = rng.random(n)
    for g, w in enumerate(C.MODE_BY_AGE):  # four age groups
        cdf = np.cumsum(np.asarray(w) / sum(w))
        cdf[-1] = 1.0
        sel = group == g
        mode[sel] = np.searchsorted(cdf, u[sel], side="right")
    hcp = choice_index(rng, C.HCP_WEIGHTS, n)
    hcp[mode == C.APPT_MODE.index("Home Visit")] = 0  # home visits are mostly by GPs
    return pa.table({
        "appointment_id": numbered_ids("GPA", np.arange(1, n + 1), 10),
        "person_id": col.lookup(tokens, person),
        "appointment_date": col.dates(day),
        "appt_status": col.codes(C.APPT_STATUS, status),
        "appt_mode": col.codes(C.APPT_MODE, mode),
        "hcp_type": col.codes(C.HCP_TYPE, hcp),
        "practice_code": col.codes(practice_codes, people.practice[person]),
    })


def ed_attendances(people: People, counts: Counts, cal: Calendar, tokens: pa.Array,
                   linked_person: np.ndarray, linked_day: np.ndarray, rng: np.random.Generator,
                   programme: Programme | None = None, programme_rng: np.random.Generator | None = None) -> pa.Table:
    """ED rows: independent attendances, planned follow-ups, and those that led to an admission
    (method 21), which arrive on the admission day and stay longer. The programme takes some of
    the counted ones away (`pipeline.generate.programme`)."""
    lo, hi, _ = exposure(people, cal, "ed")
    p1, d1 = expand(counts.ed, lo, hi, cal, "ed", rng)
    p4, d4 = expand(counts.ed_planned, lo, hi, cal, "ed", rng)
    person = np.concatenate([p1, p4, linked_person.astype(np.int32)])
    day = np.concatenate([d1, d4, linked_day.astype(np.int32)])
    kind = np.repeat(np.arange(3, dtype=np.int8), [p1.shape[0], p4.shape[0], linked_person.shape[0]])
    del p1, d1, p4, d4
    order = day_order(day)
    person, day, kind = person[order], day[order], kind[order]
    n = person.shape[0]
    age = np.maximum(people.age[person] - (cal.end - day) / 365.25, 0)  # on the day: ambulance use grows with age

    category = np.where(kind == 1, 3, choice_index(rng, C.ED_COUNTED_CATEGORY_WEIGHTS, n)).astype(np.int32)
    category[kind == 2] = 0
    dept = choice_index(rng, C.ED_DEPARTMENT_WEIGHTS, n)
    dept[(kind == 2) & (dept != 4)] = 0  # admitted patients came through the main ED (or SDEC)

    hour = choice_index(rng, C.ED_HOUR_WEIGHTS, n)
    arrival = day.astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n)

    p_amb = interp_age(age, [(0, 0.08), (15, 0.10), (25, 0.14), (50, 0.20), (65, 0.33), (80, 0.52), (95, 0.62)])
    p_amb = np.where(kind == 2, np.minimum(p_amb * 1.9, 0.9), np.where(kind == 1, p_amb * 0.3, p_amb))
    amb = rng.random(n) < p_amb
    amb_mode = choice_index(rng, C.AMBULANCE_WEIGHTS, n)
    oth_mode = choice_index(rng, C.OTHER_WEIGHTS, n)
    modes = C.AMBULANCE_MODES + C.OTHER_MODES
    mode = np.where(amb, amb_mode, len(C.AMBULANCE_MODES) + oth_mode)

    # Time in department: median about 3 h, longer when admitted, capped at 23 h.
    median_h = np.where(kind == 2, 6.5, np.where(dept == 0, 3.3, 1.6))
    stay = np.minimum(np.exp(np.log(median_h * 3600) + 0.6 * rng.standard_normal(n)), 23 * 3600).astype(np.int64)
    departure = arrival + np.maximum(stay, 300)
    # Not recorded for a few; unknown too when it would fall after the end or after registration ends.
    limit = np.minimum(people.active_end()[person].astype(np.int64), cal.end + 1) * 86400
    no_departure = (rng.random(n) < 0.012) | (departure >= limit)
    table = pa.table({
        "attendance_id": numbered_ids("EDA", np.arange(1, n + 1), 9),
        "person_id": col.lookup(tokens, person),
        "arrival_datetime": col.timestamps(arrival),
        "department_type": col.codes(C.ED_DEPARTMENT, dept),
        "attendance_category": col.codes(C.ED_CATEGORY, category),
        "arrival_mode": col.codes(modes, mode),
        "departure_datetime": col.timestamps(departure, no_departure),
    })
    if programme is None:
        return table
    # Taken out last, so every other attendance is the one it would have been without the programme.
    candidate = np.flatnonzero(kind == 0)  # counted attendances not linked to an admission
    kept = np.ones(n, dtype=bool)
    kept[candidate] = programme.keep("ed_attendances", person[candidate], day[candidate], people, cal, programme_rng)
    return table.filter(pa.array(kept))
