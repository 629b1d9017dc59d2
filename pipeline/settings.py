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

from cohorts.events import SHORT_STAY_MAX_DAYS
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
    "short_stay_max_days": "HIU_SHORT_STAY_MAX_DAYS",
    "max_quarantine_share": "HIU_MAX_QUARANTINE_SHARE",
    "date_formats": "HIU_DATE_FORMATS",
    "audit_log": "HIU_AUDIT_LOG",
    "partition_by": "HIU_PARTITION_BY",
}
# How a partitioned deployment divides the drop: by integrated care board (`pipeline.partitions`).
PARTITION_SCHEMES = ("icb",)
ALL_EXTRACTS = "*"


def _parse_date(name: str, value: Optional[str]) -> Optional[str]:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


def parse_date_formats(value: Optional[str]) -> dict[str, str]:
    """`extract=format,extract=format` -> {extract: format}."""
    from schemas.extracts import EXTRACTS

    formats = {}
    for entry in filter(None, (part.strip() for part in (value or "").split(","))):
        extract, _, layout = entry.partition("=")
        extract, layout = extract.strip(), layout.strip()
        if extract not in EXTRACTS and extract != ALL_EXTRACTS:
            raise ValueError(f"date_formats: {extract!r} is not an extract (entries are extract=format, e.g. gp_appointments=%d/%m/%Y)")
        if not all(code in layout for code in ("%d", "%m")) or not ("%Y" in layout or "%y" in layout):
            raise ValueError(f"date_formats: {layout!r} for {extract} is not a date layout with %d, %m and %Y")
        formats[extract] = layout
    return formats


def partition_warehouse(warehouse: str, key: str) -> Path:
    """`data/warehouse.duckdb` -> `data/warehouse/<key>.duckdb`: each partition's own file."""
    path = Path(warehouse)
    return path.with_name(path.stem) / f"{key}.duckdb"


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
    # A short-stay emergency admission lasts 0 to this many days (counterfactual metrics, rising risk).
    short_stay_max_days: int = SHORT_STAY_MAX_DAYS
    # A run fails when a larger share of any extract's rows is quarantined.
    max_quarantine_share: float = 0.05
    # The strptime layout of dates that are not YYYY-MM-DD, per extract ("gp_appointments=%d/%m/%Y",
    # several separated by commas, `*` for every extract). Never guessed: 03/04/2024 is ambiguous.
    date_formats: Optional[str] = None
    # `hiu reidentify` appends a line per re-identified list here; None: beside the warehouse.
    audit_log: Optional[str] = None
    # `icb`: one run per integrated care board. The extracts folder then holds a drop per ICB
    # (`hiu split` writes them), and each partition's run reads `<extracts>/<icb>/` and writes
    # `<output>/<icb>/` and its own warehouse `<warehouse without .duckdb>/<icb>.duckdb`.
    partition_by: Optional[str] = None

    @field_validator("as_of", "baseline_start")
    @classmethod
    def _dates(cls, value: Optional[str], info) -> Optional[str]:
        return _parse_date(info.field_name, value)


    @field_validator("partition_by")
    @classmethod
    def _partition_by(cls, value: Optional[str]) -> Optional[str]:
        if value in (None, "", "none"):
            return None
        if value not in PARTITION_SCHEMES:
            raise ValueError(f"partition_by must be one of {', '.join(PARTITION_SCHEMES)} (or none), not {value!r}")
        return value

    def for_partition(self, key: str) -> "HiuSettings":
        """The settings of one partition's run: its own drop, output folder and warehouse, so that a
        run for one ICB never reads or writes another's files."""
        if not self.partition_by:
            raise ValueError("a partition key was given, but HIU_PARTITION_BY is not set")
        from pipeline.partitions import check_partition_key

        check_partition_key(key)
        return self.model_copy(update={
            "extracts_dir": str(Path(self.extracts_dir) / key),
            "output_dir": str(Path(self.output_dir) / key),
            "warehouse": str(partition_warehouse(self.warehouse, key)),
        })

    @field_validator("rising_risk_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"rising_risk_share must be between 0 and 1, not {value}")
        return value

    @field_validator("short_stay_max_days")
    @classmethod
    def _short_stay(cls, value: int) -> int:
        if not 0 <= value <= 30:
            raise ValueError(f"short_stay_max_days must be a whole number of days from 0 to 30, not {value}")
        return value

    @field_validator("max_quarantine_share")
    @classmethod
    def _quarantine_share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"max_quarantine_share must be between 0 and 1, not {value}")
        return value

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: Optional[str]) -> Optional[str]:
        parse_date_formats(value)  # raises, saying which entry is wrong
        return value

    def date_format(self, extract: str) -> Optional[str]:
        formats = parse_date_formats(self.date_formats)
        return formats.get(extract, formats.get(ALL_EXTRACTS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "HiuSettings":
        values = {name: environ[variable] for name, variable in ENVIRONMENT.items() if environ.get(variable)}
        try:
            return cls(**values)
        except Exception as error:  # say which variable, in one line, without pydantic's trimmings
            problems = getattr(error, "errors", lambda: [])() or [{"loc": (), "msg": str(error)}]
            said = "; ".join(
                f"{ENVIRONMENT.get(str(p['loc'][0]), 'HIU_*') + ': ' if p['loc'] else ''}{str(p['msg']).removeprefix('Value error, ')}"
                for p in problems
            )
            raise ValueError(f"invalid setting: {said}") from None

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
