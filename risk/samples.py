"""The rising-risk problem as tables: who is scored, at which feature dates, against which outcome.

Target population: people in the population on a feature date who are not high intensity users in
the 12 months to it. Outcome: high intensity use (one or more services at or over its threshold) in
the 12 months after it. Three feature dates, a year apart:

- `scoring`: as at the as-of date; everyone is scored, nobody's outcome is known yet;
- `training`: as at `as_of - 12 months`, with outcomes in the 12 months to the as-of date;
- `earlier`: as at `as_of - 24 months`, with outcomes in the 12 months to the training date.

When the data reach back far enough for `earlier` to have every feature, candidate models are fitted
there and compared on `training` (a later time window, as the model will be used); otherwise they are
fitted on some practices and compared on the others (never a random split of person-rows, which
would let a person's neighbours in the same practice leak into the test). A feature is used only when
its window is covered at every feature date the model uses; with under 24 months of data there is no
year of outcomes after a year of features, so there is no model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from cohorts.events import person_counts_sql
from cohorts.hiu import Thresholds
from cohorts.period import months_before, window_start_months
from pipeline.duck import row_count
from risk.features import FEATURES, BuiltOnTheDate, Supplied, build_risk_features

HIU_MEASURES = ("gp_appointments", "ed_attendances", "emergency_admissions")  # what the outcome counts
LATER_WINDOW, PRACTICE_HOLD_OUT = "later time window", "hold-out of whole practices"
ROLES = ("earlier", "training", "scoring")


@dataclass(frozen=True)
class Design:
    as_of: dt.date
    data_start: dt.date | None
    validation: str | None  # LATER_WINDOW, PRACTICE_HOLD_OUT, or None: no model
    features: tuple[str, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)  # feature -> why it is not used
    reason: str | None = None  # why there is no model

    @property
    def dates(self) -> dict[str, dt.date]:
        """Feature date of each role this design uses."""
        chain = {"scoring": self.as_of, "training": months_before(self.as_of, 12), "earlier": months_before(self.as_of, 24)}
        used = ("scoring", "training", "earlier") if self.validation == LATER_WINDOW else ("scoring", "training")
        return {role: chain[role] for role in ROLES if role in used and self.validation is not None}

    def outcome_window(self, role: str) -> tuple[dt.date, dt.date] | None:
        """The 12 months after a role's feature date, to the next feature date (both included)."""
        following = {"training": "scoring", "earlier": "training"}.get(role)
        if following is None:
            return None
        later = {"training": self.as_of, "earlier": months_before(self.as_of, 12)}[role]
        return self.dates[role] + dt.timedelta(days=1), later


def _covered(data_start: dt.date, feature_date: dt.date, months: int) -> bool:
    return months == 0 or data_start <= window_start_months(feature_date, months)


def plan_design(as_of: dt.date, data_start: dt.date | None, supplied: Supplied) -> Design:
    """What the data allow: `data_start` is the first day every required activity feed covers."""
    training = months_before(as_of, 12)
    if data_start is None or not _covered(data_start, training, 12):
        since = "no activity data" if data_start is None else f"activity data from {data_start}"
        return Design(
            as_of, data_start, None,
            reason=(
                f"{since}: a model needs 12 months of activity before {training} (as-of minus 12 months) to learn "
                f"from and the 12 months after it to learn what happened, so at least 24 months of data, from "
                f"{window_start_months(training, 12)}; rising-risk scores are not calculated"
            ),
        )
    earlier = months_before(as_of, 24)
    later_window = all(_covered(data_start, earlier, f.history_months) for f in FEATURES)
    first_date = earlier if later_window else training
    used, left_out = [], {}
    missing = {"social_care": not supplied.social_care, "efi": not supplied.efi, "hfrs": not supplied.hfrs}
    for f in FEATURES:
        if f.needs and missing[f.needs]:
            left_out[f.name] = f"needs {_NEEDS[f.needs]}, not supplied"
        elif not _covered(data_start, first_date, f.history_months):
            left_out[f.name] = f"needs {f.history_months} months of activity before {first_date}; data start {data_start}"
        else:
            used.append(f.name)
    return Design(as_of, data_start, LATER_WINDOW if later_window else PRACTICE_HOLD_OUT, tuple(used), left_out)


_NEEDS = {"social_care": "the social care extract", "efi": "GP coded events and medicines", "hfrs": "admission diagnoses"}


def build_risk_samples(
    conn: duckdb.DuckDBPyConnection,
    design: Design,
    thresholds: Thresholds,
    supplied: Supplied,
    events: str = "person_events",
    table: str = "risk_features",
    built_at_as_of: BuiltOnTheDate | None = None,
) -> int:
    """`table`: one row per person and role of the design, with role, feature_date, every feature,
    hiu_now (a high intensity user in the 12 months to the feature date: not in the target
    population) and outcome (a high intensity user in the 12 months after; NULL when scoring).
    `built_at_as_of`: what the run has built for the as-of date already (the scoring date's)."""
    t = thresholds
    parts = []
    for role, day in design.dates.items():
        part = f"{table}_{role}"
        built = built_at_as_of if day == design.as_of else None
        build_risk_features(conn, day, supplied, events=events, table=part, built=built)
        window = design.outcome_window(role)
        if window:
            outcome = (
                f"coalesce(o.gp_appointments >= {t.gp} OR o.ed_attendances >= {t.ed} "
                f"OR o.emergency_admissions >= {t.admissions}, false)"
            )
            join = (
                f"LEFT JOIN ({person_counts_sql(events, *window, measures=HIU_MEASURES, social_care_states=False)}) o "
                "USING (person_id)"
            )
        else:
            outcome, join = "NULL::BOOLEAN", ""
        parts.append(
            f"""SELECT '{role}' AS role, DATE '{day.isoformat()}' AS feature_date, f.*,
                       (f.gp_appointments_12m >= {t.gp} OR f.ed_attendances_12m >= {t.ed}
                        OR f.emergency_admissions_12m >= {t.admissions}) AS hiu_now,
                       {outcome} AS outcome
                FROM {part} f {join}"""
        )
    if not parts:  # no model: an empty table of the right shape, so later steps need no special case
        build_risk_features(conn, design.as_of, supplied, events=events, table=f"{table}_scoring")
        parts.append(
            f"SELECT 'scoring' AS role, DATE '{design.as_of.isoformat()}' AS feature_date, f.*, false AS hiu_now, "
            f"NULL::BOOLEAN AS outcome FROM {table}_scoring f WHERE false"
        )
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS " + " UNION ALL ".join(parts))
    for role in ROLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}_{role}")
    return row_count(conn, table)
