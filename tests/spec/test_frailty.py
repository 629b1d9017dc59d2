"""eFI and HFRS on golden patients written by hand (domain.md; contract section 5). As-of
2025-03-31: the eFI medicine window is 2024-04-01 to 2025-03-31, the HFRS look-back 2023-04-01 on."""

import polars as pl
import pytest

from pipeline.reference_data import EFI_DEFICIT_CODES
from tests.drops import frailty_rows, write_drop

EFI = pl.read_csv(EFI_DEFICIT_CODES, infer_schema=False)
IN_TWO_DEFICITS = "230296006"  # cerebrovascular disease (5) and ... (23) in the reference list


ONE_DEFICIT_CODES = EFI.group_by("snomed_code").agg(pl.len().alias("n")).filter(pl.col("n") == 1)["snomed_code"].to_list()


def code_for(deficit: int) -> str:
    """A code of this deficit only."""
    rows = EFI.filter((pl.col("deficit_number") == str(deficit)) & pl.col("snomed_code").is_in(ONE_DEFICIT_CODES))
    return rows["snomed_code"].sort()[0]


def person(pid, born=1940, month=1):
    return {"person_id": pid, "birth_year": born, "birth_month": month}


def coded(pid, deficit=None, code=None, date="2020-01-01"):
    return {"person_id": pid, "snomed_code": code or code_for(deficit), "event_date": date}


def medicine(pid, bnf, date="2025-01-01"):
    return {"person_id": pid, "bnf_code": bnf, "issue_date": date}


def scores(tmp_path, people, **extracts):
    extracts.setdefault("gp_coded_events", [])
    extracts.setdefault("admission_diagnoses", [])
    return frailty_rows(write_drop(tmp_path, population=people, **extracts))


# --- eFI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("deficits, category", [(0, "fit"), (4, "fit"), (5, "mild"), (8, "mild"), (9, "moderate"), (12, "moderate"), (13, "severe")])
def test_efi_category_edges_by_whole_deficits(tmp_path, deficits, category):
    events = [coded("p1", d) for d in range(1, deficits + 1)]
    row = scores(tmp_path, [person("p1")], gp_coded_events=events)[0]["p1"]
    assert (row["efi_deficits"], row["efi_category"]) == (deficits, category)
    assert row["efi_score"] == pytest.approx(deficits / 36)


def test_a_deficit_recorded_many_times_counts_once(tmp_path):
    events = [coded("p1", 4, date=d) for d in ("2001-01-01", "2010-06-01", "2024-12-31")]
    assert scores(tmp_path, [person("p1")], gp_coded_events=events)[1]["p1"] == [4]


def test_a_code_in_two_deficits_counts_for_both(tmp_path):
    both = EFI.filter(pl.col("snomed_code") == IN_TWO_DEFICITS)["deficit_number"].cast(int).sort().to_list()
    assert len(both) == 2
    assert scores(tmp_path, [person("p1")], gp_coded_events=[coded("p1", code=IN_TWO_DEFICITS)])[1]["p1"] == both


@pytest.mark.parametrize("date, counted", [("1990-01-01", True), ("2025-03-31", True), ("2025-04-01", False)])
def test_deficits_count_when_ever_recorded_up_to_the_as_of_date(tmp_path, date, counted):
    events = [coded("p1", 7, date=date)]
    assert scores(tmp_path, [person("p1")], gp_coded_events=events)[0]["p1"]["efi_deficits"] == int(counted)


def five_substances(pid, date="2025-01-01"):
    return [medicine(pid, f"0{c}0101000AAAAAA", date) for c in range(1, 6)]


@pytest.mark.parametrize("date, counted", [("2024-03-31", False), ("2024-04-01", True), ("2025-03-31", True), ("2025-04-01", False)])
def test_polypharmacy_is_five_substances_issued_in_the_window(tmp_path, date, counted):
    result = scores(tmp_path, [person("p1")], gp_medications=five_substances("p1", date))[1]
    assert (26 in result.get("p1", [])) == counted


def test_polypharmacy_counts_substances_not_presentations_and_only_chapters_01_to_15(tmp_path):
    meds = [medicine("p1", f"0101010A0AA{suffix}") for suffix in ("AAAA", "BBBB", "CCCC")]  # one substance
    meds += [medicine("p1", f"{ch}01010A0AAAAAA") for ch in ("02", "03", "04")]  # three more
    meds += [medicine("p1", "2001010A0AAAAAA"), medicine("p1", "1901010A0AAAAAA")]  # appliances: not counted
    assert 26 not in scores(tmp_path, [person("p1")], gp_medications=meds)[1].get("p1", [])
    meds.append(medicine("p1", "1501010A0AAAAAA"))  # a fifth substance, chapter 15
    assert 26 in scores(tmp_path / "again", [person("p1")], gp_medications=meds)[1]["p1"]


@pytest.mark.parametrize("born_month, scored", [(3, True), (4, False)])  # 65 on 2025-03-31, or 64
def test_efi_is_for_people_aged_65_and_over(tmp_path, born_month, scored):
    row = scores(tmp_path, [person("p1", 1960, born_month)], gp_coded_events=[coded("p1", 3)])[0]["p1"]
    assert (row["efi_score"] is not None) == scored


def test_efi_is_unknown_without_coded_events(tmp_path):
    row = frailty_rows(write_drop(tmp_path, population=[person("p1")]))[0]["p1"]
    assert (row["efi_score"], row["efi_category"]) == (None, None)


# --- HFRS --------------------------------------------------------------------------------------


def spell(pid, sid, date="2025-01-01", method="11"):
    return {"person_id": pid, "spell_id": sid, "admission_date": date, "discharge_date": date, "admission_method": method}


def diagnosis(sid, code, position=1):
    return {"spell_id": sid, "icd10_code": code, "diagnosis_position": position}


def hfrs(tmp_path, diagnoses, spells=None, people=None):
    spells = spells or [spell("p1", "s1")]
    return scores(tmp_path, people or [person("p1")], admissions=spells, admission_diagnoses=diagnoses)[0]


def test_points_sum_in_whole_tenths_so_five_is_intermediate(tmp_path):
    # E53 1.9 + E86 2.3 + R13 0.8 = 5.0: intermediate, not 4.999999 (low)
    row = hfrs(tmp_path, [diagnosis("s1", "E53.8", 1), diagnosis("s1", "E86X", 2), diagnosis("s1", "R13", 3)])["p1"]
    assert row["hfrs_score"] == 5.0 and row["hfrs_band"] == "intermediate"


@pytest.mark.parametrize(
    "codes, score, band",
    [([], 0.0, "low"), (["E86"], 2.3, "low"), (["F00", "E86", "E87", "S42"], 14.0, "intermediate"),
     (["F00", "E86", "E87", "S42", "R13", "Z99", "U80"], 16.4, "high")],
)
def test_hfrs_bands(tmp_path, codes, score, band):
    row = hfrs(tmp_path, [diagnosis("s1", c, i + 1) for i, c in enumerate(codes)] or [diagnosis("s1", "A00")])["p1"]
    assert row["hfrs_score"] == pytest.approx(score) and row["hfrs_band"] == band


def test_a_code_recorded_in_every_form_and_spell_counts_once(tmp_path):
    spells = [spell("p1", "s1"), spell("p1", "s2", "2024-06-01", "21")]
    diagnoses = [diagnosis("s1", "J18.9"), diagnosis("s1", "J189", 2), diagnosis("s2", "J18X"), diagnosis("s2", "j18", 2)]
    assert hfrs(tmp_path, diagnoses, spells)["p1"]["hfrs_score"] == pytest.approx(1.1)


@pytest.mark.parametrize("date, counted", [("2023-03-31", False), ("2023-04-01", True), ("2025-03-31", True)])
def test_hfrs_takes_admissions_of_any_method_in_the_two_years(tmp_path, date, counted):
    row = hfrs(tmp_path, [diagnosis("s1", "F00")], [spell("p1", "s1", date, "12")])["p1"]
    assert row["hfrs_score"] == (7.1 if counted else 0.0)


@pytest.mark.parametrize("born_month, scored", [(3, True), (4, False)])  # 75 on 2025-03-31, or 74
def test_hfrs_is_for_people_aged_75_and_over(tmp_path, born_month, scored):
    row = hfrs(tmp_path, [diagnosis("s1", "F00")], people=[person("p1", 1950, born_month)])["p1"]
    assert (row["hfrs_score"] is not None) == scored
