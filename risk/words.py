"""Each factor of `risk.explain` in words, with the person's own numbers, as SQL over the features.

"ED attendances rising: 1 to 4 in 6 months" reads: 1 in the 6 months before, 4 in the last 6;
"GP appointments rising: 8 to 15 a year": 8 in the 12 months before the last 12, 15 in the last 12;
"Emergency admissions: 2 in the year before, 0 in the last 12 months": the earlier year raises it.
"""

from __future__ import annotations

from risk.explain import FACTORS
from risk.features import MEASURE_WORDS, TREND_MEASURES


def _plural(count: str, noun: str) -> str:
    return f"({count})::VARCHAR || ' {noun}' || CASE WHEN ({count}) = 1 THEN '' ELSE 's' END"


def _capital(words: str) -> str:
    return words[0].upper() + words[1:]


def _trend(measure: str, features: tuple[str, ...]) -> str:
    """Rising over the last two half-years, or over the last two years, or both years' numbers when
    the earlier year carries the score, or the year's count."""
    m, words = measure, _capital(MEASURE_WORDS[measure])
    not_falling = f" AND {m}_12m >= {m}_prior_12m" if f"{m}_prior_12m" in features else ""
    half_year = (
        f"WHEN {m}_6m > {m}_12m - {m}_6m{not_falling} "
        f"THEN '{words} rising: ' || ({m}_12m - {m}_6m) || ' to ' || {m}_6m || ' in 6 months' "
    )
    return f"CASE {half_year}{_years(m, words, features)}ELSE '{words}: ' || {m}_12m || ' in 12 months' END"


def _years(m: str, words: str, features: tuple[str, ...]) -> str:
    if f"{m}_prior_12m" not in features:
        return ""
    return (
        f"WHEN {m}_12m > {m}_prior_12m "
        f"THEN '{words} rising: ' || {m}_prior_12m || ' to ' || {m}_12m || ' a year' "
        f"WHEN {m}_12m < {m}_prior_12m "
        f"THEN '{words}: ' || {m}_prior_12m || ' in the year before, ' || {m}_12m || ' in the last 12 months' "
    )


def _year(measure: str, features: tuple[str, ...]) -> str:
    m, words = measure, _capital(MEASURE_WORDS[measure])
    year = f"'{words}: ' || {m}_12m || ' in 12 months'"
    years = _years(m, words, features)
    return f"CASE {years}ELSE {year} END" if years else year


def phrases(features: tuple[str, ...]) -> dict[str, str]:
    """Factor -> SQL expression of its words for one person (a row of the features table)."""
    said = {m: _trend(m, features) for m in TREND_MEASURES}
    said |= {m: _year(m, features) for m in ("ambulance_arrivals", "short_stay_admissions", "emergency_bed_days")}
    said |= {
        "gp_dna_rate_12m": "'Missed ' || round(100 * gp_dna_rate_12m)::BIGINT || '% of GP appointments in 12 months'",
        "efi_deficits": (
            "CASE WHEN efi_category = 'fit' THEN 'eFI fit (' || " + _plural("efi_deficits", "deficit") + " || ')' "
            "ELSE upper(efi_category[1]) || efi_category[2:] || ' frailty (' || efi_deficits || ' eFI deficits)' END"
        ),
        "hfrs_score": (
            "'Hospital Frailty Risk Score ' || round(hfrs_score, 1) || ' (' || "
            "CASE WHEN hfrs_score < 5 THEN 'low' WHEN hfrs_score <= 15 THEN 'intermediate' ELSE 'high' END || ')'"
        ),
        "age": "'Age ' || age",
        "female": "CASE WHEN female = 1 THEN 'Female' ELSE 'Male' END",
        "imd_decile": "'Lives in IMD decile ' || imd_decile || ' (1 is the most deprived)'",
        "social_care": (
            "'Social care in 12 months: ' || coalesce(nullif(concat_ws(', ', "
            "CASE WHEN social_care_requests_12m > 0 THEN " + _plural("social_care_requests_12m", "request") + " END, "
            "CASE WHEN social_care_services_12m > 0 THEN " + _plural("social_care_services_12m", "service") + " END, "
            "CASE WHEN social_care_unplanned_reviews_12m > 0 THEN "
            + _plural("social_care_unplanned_reviews_12m", "unplanned review") + " END), ''), 'none')"
        ),
    }
    missing = set(FACTORS) - set(said)
    if missing:
        raise ValueError(f"factors without words: {sorted(missing)}")
    return {factor: said[factor] for factor in FACTORS}


def top_factors_sql(features_table: str, chosen_table: str, features: tuple[str, ...]) -> str:
    """SELECT person_id, top_factors: `chosen_table` holds person_id and factor_1..3 (indices into
    FACTORS, -1 for none); the words come from the person's row of `features_table`."""
    said = phrases(features)
    words = "[" + ", ".join(said[f] for f in FACTORS) + "]"
    picks = ", ".join(f"CASE WHEN factor_{k} >= 0 THEN said[factor_{k} + 1] END" for k in (1, 2, 3))
    return f"""
        SELECT person_id, concat_ws('; ', {picks}) AS top_factors
        FROM (SELECT c.*, {words} AS said FROM {chosen_table} c JOIN {features_table} f USING (person_id))
    """
