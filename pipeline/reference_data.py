"""Versioned reference code lists (data/reference/<list>/<version>/, described in its README).
A new version goes in a new folder; code names the version it uses here, in one place."""

from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"
EFI_DEFICIT_CODES = REFERENCE_DIR / "efi_deficit_snomed_codes" / "v1" / "efi_deficit_snomed_codes.csv"
HFRS_ICD10_WEIGHTS = REFERENCE_DIR / "hfrs_icd10_weights" / "v1" / "hfrs_icd10_weights.csv"
