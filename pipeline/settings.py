"""Run settings: one Dagster resource read from the HIU_* environment variables (contract section 1),
each with a default. The `hiu` command's flags set the same variables, and the manifest records them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import dagster as dg
from pydantic import field_validator

from cohorts.hiu import Thresholds

# setting name -> (environment variable, default); None means "derived from the data".
ENVIRONMENT = {
    "extracts_dir": ("HIU_EXTRACTS_DIR", "data/sample"),
    "output_dir": ("HIU_OUTPUT_DIR", "outputs"),
    "warehouse": ("HIU_WAREHOUSE", "data/warehouse.duckdb"),
    "as_of": ("HIU_AS_OF", None),
    "gp_threshold": ("HIU_GP_THRESHOLD", "20"),
    "ed_threshold": ("HIU_ED_THRESHOLD", "5"),
    "admissions_threshold": ("HIU_ADMISSIONS_THRESHOLD", "3"),
    "rising_risk_share": ("HIU_RISING_RISK_SHARE", "0.02"),
    "baseline_start": ("HIU_BASELINE_START", None),
}


def _parse_date(name: str, value: Optional[str]) -> Optional[str]:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


class HiuSettings(dg.ConfigurableResource):
    """Where the extracts are, where outputs go, and the counting thresholds."""

    extracts_dir: str = "data/sample"
    output_dir: str = "outputs"
    warehouse: str = "data/warehouse.duckdb"
    as_of: Optional[str] = None
    gp_threshold: int = 20
    ed_threshold: int = 5
    admissions_threshold: int = 3
    rising_risk_share: float = 0.02
    baseline_start: Optional[str] = None

    @field_validator("as_of", "baseline_start")
    @classmethod
    def _dates(cls, value: Optional[str], info) -> Optional[str]:
        return _parse_date(info.field_name, value)

    @field_validator("gp_threshold", "ed_threshold", "admissions_threshold")
    @classmethod
    def _positive(cls, value: int, info) -> int:
        if value < 1:
            raise ValueError(f"{info.field_name} must be 1 or more, not {value}")
        return value

    @field_validator("rising_risk_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"rising_risk_share must be between 0 and 1, not {value}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HiuSettings":
        values = {}
        for name, (variable, default) in ENVIRONMENT.items():
            value = environ.get(variable) or default
            if value is not None:
                values[name] = value
        try:
            return cls(**values)
        except Exception as error:  # pydantic's message names the field; add the variable
            raise ValueError(f"invalid HIU_* setting: {error}") from None

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.gp_threshold, self.ed_threshold, self.admissions_threshold)

    @property
    def extracts_path(self) -> Path:
        return Path(self.extracts_dir)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir)

    @property
    def as_of_date(self) -> Optional[dt.date]:
        return dt.date.fromisoformat(self.as_of) if self.as_of else None
