"""The synthetic key file (pipeline.generate.keyfile): one distinct, valid, never-issued NHS number
per person of a drop, with a name and a date of birth that fit the population extract."""

import calendar
import datetime as dt

import numpy as np
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.generate.keyfile import synthetic_nhs_numbers, write_key_file
from pipeline.reidentify.key import read_key
from schemas.nhs_number import is_valid_nhs_number
from tests.drops import write_drop

PEOPLE = [
    {"person_id": "kx1", "birth_year": 1940, "birth_month": 2, "sex": "F"},
    {"person_id": "=kx2", "birth_year": 2000, "birth_month": 2, "sex": "M"},
    {"person_id": "0062533197248372", "birth_year": 1931, "birth_month": 12, "sex": "U"},
    {"person_id": "kx4"},
]


def test_every_person_gets_a_distinct_valid_999_number_and_a_consistent_birth_date(tmp_path):
    drop = write_drop(tmp_path / "drop", population=PEOPLE)
    assert write_key_file(drop, 5, tmp_path / "key.csv") == 4
    key = pl.read_csv(tmp_path / "key.csv", infer_schema=False)
    assert key.columns == ["person_id", "nhs_number", "name", "date_of_birth"]
    assert key["person_id"].to_list() == [p["person_id"] for p in PEOPLE]
    assert key["nhs_number"].n_unique() == 4
    assert all(n.startswith("999") and is_valid_nhs_number(n) for n in key["nhs_number"])
    for person, born in zip(PEOPLE, key["date_of_birth"]):
        day = dt.date.fromisoformat(born)
        assert (day.year, day.month) == (person.get("birth_year", 1960), person.get("birth_month", 6))
    assert key["name"].str.contains(" ").all()
    assert read_key(tmp_path / "key.csv").rows == 4  # and hiu reidentify accepts it


def test_the_same_drop_and_seed_give_the_same_key(tmp_path):
    drop = write_drop(tmp_path / "drop", population=PEOPLE)
    paths = [tmp_path / f"key{n}.csv" for n in range(3)]
    for path, seed in zip(paths, (5, 5, 6)):
        write_key_file(drop, seed, path)
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


def test_synthetic_numbers_are_distinct_and_valid_at_scale():
    numbers = synthetic_nhs_numbers(200_000, np.random.default_rng(1))
    assert len(set(numbers)) == 200_000
    assert all(n[:3] == "999" and is_valid_nhs_number(n) for n in numbers[:: 997])


def test_more_people_than_the_range_holds_is_refused():
    with pytest.raises(ValueError, match="fewer than the 1,000,000 needed"):
        synthetic_nhs_numbers(1_000_000, np.random.default_rng(1))


def test_the_key_never_goes_into_the_drop(tmp_path):
    drop = write_drop(tmp_path / "drop", population=PEOPLE)
    with pytest.raises(ValueError, match="outside the drop folder"):
        write_key_file(drop, 1, drop / "key.csv")


def test_hiu_generate_writes_the_key_file_with_the_drop(tmp_path, capsys):
    code = main(["generate", "--population", "150", "--seed", "3", "--out", str(tmp_path / "drop"), "--months", "12",
                 "--no-progress", "--key-file", str(tmp_path / "practice" / "key.csv")])
    assert code == 0 and "key file" in capsys.readouterr().out
    key = pl.read_csv(tmp_path / "practice" / "key.csv", infer_schema=False)
    population = pl.read_parquet(tmp_path / "drop" / "population.parquet")
    assert key["person_id"].to_list() == population["person_id"].to_list()
    born = key["date_of_birth"].str.to_date()
    assert (born.dt.year().to_list(), born.dt.month().to_list()) == (population["birth_year"].to_list(), population["birth_month"].to_list())
    assert all(1 <= d.day <= calendar.monthrange(d.year, d.month)[1] for d in born)
