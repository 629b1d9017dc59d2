"""A synthetic key file for a drop: what a practice would hold to re-identify its lists.

    from pipeline.generate.keyfile import write_key_file
    write_key_file(Path("data/sample"), seed=1, out=Path("/tmp/key.csv"))

Every person_id of the population extract gets a distinct NHS number from the synthetic range
999 000 0000 to 999 999 9999 (domain.md: valid by the modulus 11 check, never issued, so a demo can
never name a real patient), a made-up name that fits their recorded sex, and a date of birth in
their recorded birth month. The same drop and seed give the same file.
"""
from __future__ import annotations

import calendar
import csv
import os
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.extract_files import data_suffix, find_extract_files
from schemas.nhs_number import SYNTHETIC_FIRST, SYNTHETIC_LAST, check_digit

from .util import stage_rng

KEY_STAGE = 101  # a stage seed of its own: the drop's draws never move with the key's
_GIVEN = {
    "F": ["Olivia", "Amelia", "Isla", "Ava", "Zoë", "Siân", "Margaret", "Joan", "Patricia", "Aoife", "Priya", "Fatima"],
    "M": ["Oliver", "George", "Noah", "Arthur", "Rhys", "Seán", "John", "David", "Kenneth", "Mohammed", "Tomasz", "Kwame"],
}
_FAMILY = ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
           "O’Brien", "Patel", "Nowak", "Khan", "Murphy", "Lewis-Hughes", "Okafor", "Begum", "Walker", "Roberts"]


def synthetic_nhs_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """`n` distinct valid NHS numbers from the synthetic range, in random order. About 909,000
    exist (nine in eleven first-nine-digits have a check digit)."""
    first, last = SYNTHETIC_FIRST // 10, SYNTHETIC_LAST // 10
    numbers: list[str] = []
    for body in rng.permutation(np.arange(first, last + 1, dtype=np.int64)):
        digit = check_digit(str(body))
        if digit is not None:
            numbers.append(f"{body}{digit}")
            if len(numbers) == n:
                return numbers
    if n:
        raise ValueError(f"the synthetic range holds {len(numbers):,} valid NHS numbers, fewer than the {n:,} needed")
    return numbers


def _population(drop: Path) -> pl.DataFrame:
    files = find_extract_files(Path(drop), "population")
    if not files:
        raise ValueError(f"{drop} has no population extract")
    frames = []
    for path in files:
        frame = pl.read_parquet(path) if data_suffix(path) == ".parquet" else pl.read_csv(path, infer_schema=False)
        frames.append(frame.select(
            pl.col("person_id").cast(pl.String).str.strip_chars(),
            *(pl.col(c).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)
              for c in ("birth_year", "birth_month")),
            pl.col("sex").cast(pl.String).str.strip_chars(),
        ))
    # the first row of a repeated id is the one the pipeline accepts (contract section 3)
    people = pl.concat(frames).filter(pl.col("person_id").is_not_null() & (pl.col("person_id") != ""))
    return people.unique("person_id", keep="first", maintain_order=True)


def _birth_date(year, month, rng: np.random.Generator) -> str:
    if year is None or month is None or not (1 <= month <= 12 and 1 <= year <= 9999):
        return ""  # nothing recorded to be consistent with
    return f"{year:04d}-{month:02d}-{int(rng.integers(1, calendar.monthrange(year, month)[1] + 1)):02d}"


def write_key_file(drop: Path, seed: int, out: Path) -> int:
    """Write the key CSV (person_id, nhs_number, name, date_of_birth); return its rows."""
    drop, out = Path(drop), Path(out)
    if out.resolve().parent == drop.resolve():
        # a file in the drop that matches no extract stops `hiu run`, and a key belongs apart anyway
        raise ValueError(f"write the key file outside the drop folder {drop}")
    people = _population(drop)
    rng = stage_rng(seed, KEY_STAGE)
    numbers = synthetic_nhs_numbers(people.height, rng)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id", "nhs_number", "name", "date_of_birth"])
        for (person, year, month, sex), number in zip(people.iter_rows(), numbers, strict=True):
            given = _GIVEN.get(sex) or _GIVEN["F" if rng.random() < 0.5 else "M"]
            name = f"{given[int(rng.integers(len(given)))]} {_FAMILY[int(rng.integers(len(_FAMILY)))]}"
            writer.writerow([person, number, name, _birth_date(year, month, rng)])
    os.replace(temporary, out)
    return people.height
