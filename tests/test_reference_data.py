"""The versioned reference lists are the files their README describes, unchanged."""

import hashlib

import polars as pl

from pipeline.reference_data import EFI_DEFICIT_CODES, HFRS_ICD10_WEIGHTS


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_efi_codes_are_the_published_list():
    assert sha256(EFI_DEFICIT_CODES) == "eddace18a48ed66158742348e2d4202774c3e2039b1822d16e122fb479281eb5"
    codes = pl.read_csv(EFI_DEFICIT_CODES, infer_schema=False)
    assert codes.height == 2089
    deficits = set(codes["deficit_number"].cast(pl.Int64))
    assert deficits == set(range(1, 37)) - {26}  # polypharmacy is computed from medicines
    assert codes["snomed_code"].str.contains(r"^[0-9]+$").all()
    in_two = codes.group_by("snomed_code").agg(pl.col("deficit_number").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert in_two.height > 0  # codes that belong to two deficits are kept in both


def test_hfrs_weights_are_the_published_list():
    assert sha256(HFRS_ICD10_WEIGHTS) == "811666a2c7745e546bfe0d5b1f723ac1bd04dbe7b196ee74a7b5bb4e55c29c5e"
    weights = pl.read_csv(HFRS_ICD10_WEIGHTS, infer_schema=False)
    assert weights.height == 109 and weights["icd10_3char"].n_unique() == 109
    tenths = weights["points"].str.replace(".", "", literal=True).cast(pl.Int64)  # exact, no float sums
    assert tenths.sum() == 1732
