"""The run's numbers that column descriptions, data dictionaries and workbooks write into their
words (a description's "{gp_threshold}" becomes 20)."""

from assets.factory import Step
from assets.programme import programme_months
from cohorts.period import month_end
from metrics.counterfactual import BaselineError


def list_terms(step: Step) -> dict:
    """The run's numbers that data dictionaries and workbooks write into their words."""
    period, thresholds = step.period, step.thresholds
    try:
        months = programme_months(step)
    except BaselineError:  # said by the programme assets, which fail on it; a list's words do not need it
        months = None
    return {
        "as_of": period.as_of.isoformat(),
        "window_start": period.start.isoformat(),
        "window_end": period.end.isoformat(),
        "gp_threshold": thresholds.gp,
        "ed_threshold": thresholds.ed,
        "admissions_threshold": thresholds.admissions,
        "short_stay_max_days": step.settings.short_stay_max_days,
        "baseline_start": months.baseline_first.isoformat() if months else "(no baseline)",
        "baseline_end": month_end(months.baseline_last).isoformat() if months else "(no baseline)",
        "last_month": months.last.isoformat() if months else "(none)",
    }
