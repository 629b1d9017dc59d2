"""Contract section 1: settings from HIU_* variables, each with a default; bad values refused."""

import pytest

from pipeline.settings import HiuSettings


def test_defaults_are_the_contracts():
    s = HiuSettings.from_env({})
    assert (s.extracts_dir, s.output_dir, s.warehouse, s.as_of) == ("data/sample", "outputs", "data/warehouse.duckdb", None)
    assert (s.gp_threshold, s.ed_threshold, s.admissions_threshold, s.rising_risk_share) == (20, 5, 3, 0.02)


def test_environment_overrides_defaults():
    s = HiuSettings.from_env({"HIU_AS_OF": "2025-03-31", "HIU_ED_THRESHOLD": "4", "HIU_OUTPUT_DIR": "/tmp/x"})
    assert (s.as_of, s.ed_threshold, s.output_dir) == ("2025-03-31", 4, "/tmp/x")


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("HIU_AS_OF", "31/03/2025", "as_of must be a date"),
        ("HIU_GP_THRESHOLD", "0", "threshold gp must be"),
        ("HIU_ADMISSIONS_THRESHOLD", "three", "HIU_ADMISSIONS_THRESHOLD: Input should be a valid integer"),
        ("HIU_MAX_QUARANTINE_SHARE", "5", "HIU_MAX_QUARANTINE_SHARE: max_quarantine_share must be between 0 and 1"),
        ("HIU_DATE_FORMATS", "gp=%d/%m/%Y", "HIU_DATE_FORMATS: date_formats: 'gp' is not an extract"),
        ("HIU_DATE_FORMATS", "gp_appointments=%Y", "is not a date layout"),
        ("HIU_RISING_RISK_SHARE", "2", "rising_risk_share must be between 0 and 1"),
    ],
)
def test_bad_settings_are_refused_with_a_message(variable, value, message):
    with pytest.raises(ValueError, match=message) as error:
        HiuSettings.from_env({variable: value})
    assert "\n" not in str(error.value)  # one line, as hiu run prints it


def test_date_formats_name_each_extracts_layout_or_every_extracts():
    s = HiuSettings.from_env({"HIU_DATE_FORMATS": "gp_appointments=%d/%m/%Y, *=%m/%d/%Y"})
    assert (s.date_format("gp_appointments"), s.date_format("admissions")) == ("%d/%m/%Y", "%m/%d/%Y")
    assert HiuSettings.from_env({}).date_format("gp_appointments") is None
