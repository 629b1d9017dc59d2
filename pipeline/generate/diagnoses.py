"""Admission diagnoses: 1 to 10 ICD-10 codes per spell, in the mixed forms extracts really hold.

The primary diagnosis comes from a pool that fits the kind of spell (emergency, elective,
maternity, birth, death). Secondary diagnoses are HFRS codes with a probability that rises with age
and frailty (the person's latent need in the half-year of the admission, so HFRS rises with a
climbing need), otherwise common comorbidities that are not on the HFRS list; frequent admitters
accumulate distinct HFRS codes across spells, which spreads HFRS scores among the over-75s. Codes
are written as 'J18.9', 'J189' or 'J18X' (three-character codes padded with X); the column is built
as a dictionary over every written form, which the Parquet writer stores as plain strings.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import columns as col
from .admissions import KIND_BIRTH, KIND_DEATH, KIND_ELECTIVE, KIND_EMERGENCY, KIND_MATERNITY, KIND_OTHER, Spells
from .people import People
from .reference import HfrsCodes
from .util import choice_index, interp_age, ragged_index

_EMERGENCY = ["R07", "R10", "J44", "I50", "I21", "K35", "J06", "J20", "I48", "K80", "K85", "G43", "R51",
              "T78", "S52", "J45", "A08", "K29", "N13", "I26", "I80", "E10", "O03", "F19", "T39", "B34", "J21"]
_ELECTIVE = ["H26", "M17", "M16", "K40", "K80", "N40", "C50", "C61", "C18", "Z51", "K57", "H35", "K63",
             "D12", "M23", "Z45", "C44", "D22", "M75", "G56"]
_MATERNITY = ["O80", "O82", "O70", "O34", "O99", "O26", "O42", "O48", "O47", "O60"]
_BIRTH = ["Z38", "P59", "P07", "P22", "P92"]
_DEATH = ["J18", "I50", "C34", "J44", "A41", "I21", "I63", "C80", "N17", "C18", "F03", "J69", "C25", "I61"]
_COMORBID = ["I10", "E11", "E78", "I48", "J44", "Z86", "Z92", "Z88", "I25", "K21", "E03", "F17", "Z95",
             "N40", "M54", "G47", "F41", "E66", "J45", "H40", "Z80", "K76", "E14", "I35", "Z96", "K44"]
# HFRS codes common in older inpatients get a higher draw weight (others stay possible).
_HFRS_COMMON = {"N39": 6, "J18": 5, "R26": 5, "W19": 5, "E87": 4, "N17": 4, "F05": 4, "R41": 4, "Z74": 3,
                "Z75": 3, "Z91": 4, "R29": 3, "I69": 3, "L03": 3, "E86": 3, "S72": 2, "R55": 3, "F03": 3,
                "Z99": 2, "W18": 2, "Z50": 2, "M81": 3, "N18": 4, "Z87": 4, "D64": 4, "R54": 2, "F32": 3,
                "K59": 3, "J22": 3, "H54": 2, "G30": 1.5, "F00": 1.5, "I67": 2, "S06": 1.5, "S00": 2,
                "R32": 2, "R33": 2, "E55": 2, "M19": 3, "W10": 1.5, "W01": 1.5, "X59": 2, "Y95": 1.5}


def _pool(codes: list[str], hfrs: set[str], keep_hfrs: bool) -> list[str]:
    return [c for c in codes if keep_hfrs or c not in hfrs]


def _dictionary(vocab: list[str]) -> list[str]:
    """All 21 written forms of each code ('J18.0'..'J18.9', 'J180'..'J189', 'J18X'), each once
    (a dictionary with repeated values makes the Parquet writer's output order-unstable)."""
    return [f for c in vocab for f in [f"{c}.{d}" for d in range(10)] + [f"{c}{d}" for d in range(10)] + [f"{c}X"]]


def admission_diagnoses(spells: Spells, people: People, frail: np.ndarray, hfrs: HfrsCodes,
                        hfrs_scale: float, rng: np.random.Generator) -> pa.Table:
    """`frail`: float (number of spells,), the latent need of each spell's person at its admission."""
    hset = set(hfrs.codes)
    pools = {
        KIND_EMERGENCY: _pool(_EMERGENCY, hset, False) + ["J18", "N39", "R55", "S72", "L03"],
        KIND_ELECTIVE: _pool(_ELECTIVE, hset, False),
        KIND_MATERNITY: _pool(_MATERNITY, hset, False),
        KIND_OTHER: _pool(_EMERGENCY, hset, False),
        KIND_BIRTH: _pool(_BIRTH, hset, False),
        KIND_DEATH: _DEATH,
    }
    comorbid = _pool(_COMORBID, hset, False)
    vocab = sorted(set(comorbid).union(hfrs.codes, *pools.values()))
    vidx = {c: i for i, c in enumerate(vocab)}

    age = people.age[spells.person]
    f = frail
    mean_extra = interp_age(age, [(0, 0.4), (20, 0.9), (50, 1.8), (70, 3.2), (85, 4.2)]) * np.exp(0.2 * f)
    mean_extra = np.where(spells.kind == KIND_BIRTH, 0.4, mean_extra)
    n_diag = np.minimum(1 + rng.poisson(mean_extra), 10)
    parent, rank = ragged_index(n_diag)
    m = parent.shape[0]
    kind = spells.kind[parent]
    row_age = age[parent]
    code = np.empty(m, dtype=np.int32)

    primary = rank == 0
    for k, pool in pools.items():  # six spell kinds
        sel = np.flatnonzero(primary & (kind == k))
        ids = np.array([vidx[c] for c in pool])
        code[sel] = ids[rng.integers(0, len(pool), sel.shape[0])]
    # Secondary: HFRS with probability rising with age and frailty (the frail collect more).
    p_h = interp_age(row_age, [(0, 0.02), (40, 0.06), (65, 0.2), (75, 0.3), (85, 0.38), (95, 0.42)])
    p_h = np.clip(p_h * hfrs_scale * np.exp(0.35 * f[parent]), 0, 0.85)
    secondary = np.flatnonzero(~primary)
    is_h = rng.random(secondary.shape[0]) < p_h[secondary]
    hw = np.array([_HFRS_COMMON.get(c, 1.0) for c in hfrs.codes])
    h_ids = np.array([vidx[c] for c in hfrs.codes])
    c_ids = np.array([vidx[c] for c in comorbid])
    code[secondary] = np.where(is_h, h_ids[choice_index(rng, hw, secondary.shape[0])],
                               c_ids[rng.integers(0, len(comorbid), secondary.shape[0])])

    style = choice_index(rng, [55, 35, 10], m)
    digit = rng.integers(0, 10, m)
    return pa.table({
        "spell_id": spells.table.column("spell_id").combine_chunks().take(pa.array(parent)),
        "diagnosis_position": col.ints((rank + 1).astype(np.int32)),
        "icd10_code": col.codes(_dictionary(vocab), code * 21 + np.where(style == 2, 20, style * 10 + digit)),
    })
