"""Frailty properties: adding a coded event never lowers a score; scores stay in their ranges."""

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS
from tests.drops import frailty_rows, write_drop

EFI_CODES = sorted(pl.read_csv(EFI_DEFICIT_CODES, infer_schema=False)["snomed_code"].unique().to_list())
HFRS_CODES = sorted(pl.read_csv(HFRS_ICD10_WEIGHTS, infer_schema=False)["icd10_3char"].to_list())
dates = st.sampled_from(["2000-01-01", "2024-06-01", "2025-03-31", "2025-04-01"])
events = st.lists(st.tuples(st.sampled_from(EFI_CODES), dates), max_size=25)
diagnoses = st.lists(st.sampled_from(HFRS_CODES + ["A00", "Z00"]), max_size=40)


def score(coded, codes):
    with tempfile.TemporaryDirectory() as folder:
        drop = write_drop(
            Path(folder),
            population=[{"person_id": "p1", "birth_year": 1930}],
            gp_coded_events=[{"person_id": "p1", "snomed_code": c, "event_date": d} for c, d in coded],
            admissions=[{"person_id": "p1", "spell_id": "s1", "admission_date": "2025-01-01", "discharge_date": "2025-01-02"}],
            admission_diagnoses=[{"spell_id": "s1", "icd10_code": c, "diagnosis_position": i + 1} for i, c in enumerate(codes)],
        )
        return frailty_rows(drop)[0]["p1"]


@settings(max_examples=25)
@given(events, st.tuples(st.sampled_from(EFI_CODES), dates), diagnoses, st.sampled_from(HFRS_CODES))
def test_adding_a_coded_event_never_lowers_a_score(coded, extra_event, codes, extra_code):
    before, after = score(coded, codes), score(coded + [extra_event], codes + [extra_code])
    assert after["efi_score"] >= before["efi_score"]
    assert after["hfrs_score"] >= before["hfrs_score"]


@settings(max_examples=25)
@given(events, diagnoses)
def test_scores_lie_in_their_ranges(coded, codes):
    row = score(coded, codes)
    assert 0 <= row["efi_score"] <= 1
    assert 0 <= row["hfrs_score"] <= 173.2
    assert row["hfrs_score"] * 10 == round(row["hfrs_score"] * 10)  # whole tenths
