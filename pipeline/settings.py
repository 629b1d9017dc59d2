"""Run settings: one Dagster resource read from the HIU_* environment variables (contract section 1),
each with a default. The `hiu` command's flags set the same variables, and the manifest records them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import dagster as dg
from pydantic import field_validator, model_validator

from cohorts.hiu import Thresholds

# setting -> environment variable; the defaults are the fields' own (None: derived from the data).
ENVIRONMENT = {
    "extracts_dir": "HIU_EXTRACTS_DIR",
    "output_dir": "HIU_OUTPUT_DIR",
    "warehouse": "HIU_WAREHOUSE",
    "as_of": "HIU_AS_OF",
    "gp_threshold": "HIU_GP_THRESHOLD",
    "ed_threshold": "HIU_ED_THRESHOLD",
    "admissions_threshold": "HIU_ADMISSIONS_THRESHOLD",
    "rising_risk_share": "HIU_RISING_RISK_SHARE",
    "baseline_start": "HIU_BASELINE_START",
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


    @field_validator("rising_risk_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"rising_risk_share must be between 0 and 1, not {value}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HiuSettings":
        values = {name: environ[variable] for name, variable in ENVIRONMENT.items() if environ.get(variable)}
        try:
            return cls(**values)
        except Exception as error:  # pydantic's message names the field; add the variable
            raise ValueError(f"invalid HIU_* setting: {error}") from None

    @model_validator(mode="after")
    def _valid_thresholds(self) -> "HiuSettings":
        Thresholds(self.gp_threshold, self.ed_threshold, self.admissions_threshold)  # raises, saying what is wrong
        return self

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
