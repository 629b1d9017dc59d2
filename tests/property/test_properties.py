"""Properties that hold for any input, checked by Hypothesis."""

import tempfile
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cohorts.hiu import Thresholds, build_person_intensity
from pipeline.exports import CohortList, write_neighbourhood_files
from pipeline.workbook import workbook_ids
from schemas.extracts import EXTRACTS
from tests.drops import complete_rows, stage_drop, write_drop

people_counts = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 10), st.integers(0, 6)), min_size=1, max_size=60
)
thresholds = st.builds(Thresholds, st.integers(1, 40), st.integers(1, 10), st.integers(1, 6))


def intensity(rows, t: Thresholds) -> pl.DataFrame:
    conn = duckdb.connect()
    activity = pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(len(rows))],
            "gp_appointments_12m": [r[0] for r in rows],
            "ed_attendances_12m": [r[1] for r in rows],
            "emergency_admissions_12m": [r[2] for r in rows],
        }
    )
    conn.register("activity_frame", activity)
    conn.execute("CREATE TABLE person_activity_12m AS SELECT * FROM activity_frame")
    build_person_intensity(conn, t)
    return conn.sql("SELECT * FROM person_intensity ORDER BY person_id").pl()


@given(people_counts, thresholds, st.sampled_from(["gp", "ed", "admissions"]), st.integers(1, 10))
def test_raising_a_threshold_never_adds_people(rows, t, service, step):
    raised = Thresholds(**{**vars(t), service: getattr(t, service) + step})
    before, after = intensity(rows, t), intensity(rows, raised)
    hiu = lambda f: set(f.filter(pl.col("high_intensity_services") >= 1)["person_id"])  # noqa: E731
    himsu = lambda f: set(f.filter(pl.col("himsu"))["person_id"])  # noqa: E731
    assert hiu(after) <= hiu(before)
    assert himsu(after) <= himsu(before)


@given(people_counts, thresholds)
def test_services_over_threshold_is_the_count_of_flags(rows, t):
    frame = intensity(rows, t)
    flags = frame.select(pl.sum_horizontal(pl.col("hiu_gp", "hiu_ed", "hiu_admissions").cast(pl.Int64)))
    assert frame["high_intensity_services"].to_list() == flags.to_series().to_list()
    assert frame["himsu"].to_list() == [n >= 2 for n in frame["high_intensity_services"]]


codes = st.sampled_from(["north", "south", "INT-03", "east_1", "w"])
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=40)
@given(st.lists(st.tuples(codes, text), max_size=40, unique_by=lambda r: r[1]))
def test_neighbourhood_files_partition_the_cohort(rows):
    cohort = pl.DataFrame(
        {"person_id": [r[1] for r in rows], "neighbourhood_code": [r[0] for r in rows]},
        schema={"person_id": pl.String, "neighbourhood_code": pl.String},
    )
    all_codes = ["north", "south", "INT-03", "east_1", "w"]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        dictionary = pl.DataFrame({"column": ["person_id", "neighbourhood_code"], "description": ["who", "where"]})
        listed = CohortList("hiu_cohort", "High intensity users", dictionary,
                            [("person_id", "Person ID"), ("neighbourhood_code", "Neighbourhood code")], {})
        neighbourhoods = {code: code.title() for code in all_codes}
        written = write_neighbourhood_files(cohort, neighbourhoods, run_dir, listed, lambda code, name, rows: [("Neighbourhood", name)])
        seen = []
        for code in all_codes:
            frame = pl.read_parquet(run_dir / "neighbourhoods" / code / "hiu_cohort.parquet")
            assert set(frame["neighbourhood_code"]) <= {code}
            csv_frame = pl.read_csv(run_dir / "neighbourhoods" / code / "hiu_cohort.csv", infer_schema=False)
            assert csv_frame.height == frame.height == written[code]
            # any text at all comes back from the workbook exactly as it went in
            assert workbook_ids(run_dir / "neighbourhoods" / code / "hiu_cohort.xlsx") == frame["person_id"].to_list()
            seen += frame["person_id"].to_list()
    assert sorted(seen) == sorted(cohort["person_id"].to_list())


# --- rows read = accepted + quarantined, whatever the corruption ---------------------------------

BASE = {
    "population": [{"person_id": f"p{i}", "birth_year": 1930 + 7 * i} for i in range(6)],
    "gp_appointments": [{"person_id": f"p{i % 6}"} for i in range(12)],
    "ed_attendances": [{"person_id": f"p{i % 6}"} for i in range(8)],
    "admissions": [{"person_id": f"p{i % 6}", "spell_id": f"s{i}"} for i in range(6)],
    "admission_diagnoses": [{"spell_id": f"s{i}"} for i in range(6)],
    "social_care_events": [{"person_id": f"p{i % 6}"} for i in range(5)],
    "gp_coded_events": [{"person_id": f"p{i % 6}"} for i in range(5)],
    "gp_medications": [{"person_id": f"p{i % 6}"} for i in range(5)],
}
nasty = st.one_of(
    st.just(""),
    st.sampled_from(["2025-02-30", "NULL", "p99", "s99", "1e3", "-1", " p1", "=cmd()", 'a"b', "x,y", "line\nbreak", "é"]),
    st.text(max_size=8),
)
corruption = st.lists(
    st.tuples(st.sampled_from(sorted(BASE)), st.integers(0, 11), st.integers(0, 9), nasty), max_size=15
)
repeats = st.lists(st.tuples(st.sampled_from(sorted(BASE)), st.integers(0, 11)), max_size=5)
# How each extract is laid out: one CSV, one Parquet, or a folder of two files (CSV and Parquet).
layouts = st.fixed_dictionaries({name: st.sampled_from(["csv", "parquet", "folder"]) for name in sorted(BASE)})


def relayout(drop: Path, name: str, layout: str) -> None:
    """Rewrite one extract's CSV as Parquet (all text) or as a folder of a CSV and a Parquet part."""
    source = drop / f"{name}.csv"
    frame = pl.read_csv(source, infer_schema=False)
    if layout == "parquet":
        source.unlink()
        frame.write_parquet(drop / f"{name}.parquet")
    elif layout == "folder":
        source.unlink()
        (drop / name).mkdir()
        half = frame.height // 2
        frame.head(half).write_csv(drop / name / "a.csv")
        frame.tail(frame.height - half).write_parquet(drop / name / "b.parquet")


@settings(max_examples=40)
@given(corruption, repeats, layouts)
def test_rows_read_equal_accepted_plus_quarantined(corruptions, repeated, layout):
    extracts = {name: complete_rows(name, rows) for name, rows in BASE.items()}
    for name, row_index, column_index, value in corruptions:
        rows, columns = extracts[name], EXTRACTS[name].columns
        rows[row_index % len(rows)][columns[column_index % len(columns)]] = value
    for name, row_index in repeated:
        extracts[name].append(dict(extracts[name][row_index % len(extracts[name])]))
    with tempfile.TemporaryDirectory() as folder:
        drop = write_drop(Path(folder), practices=[{}], **extracts)
        for name in BASE:
            relayout(drop, name, layout[name])
        conn = duckdb.connect()
        counts = stage_drop(conn, drop)
        for name, rows in extracts.items():
            c = counts[name]
            assert c.read == len(rows), name  # every written row was read, however odd its cells
            assert c.read == c.accepted + c.quarantined, name
            blank = conn.execute(f"SELECT count(*) FROM quarantine_{name} WHERE coalesce(reason, '') = ''").fetchall()
            assert blank == [(0,)], name
