"""The social care profile of high intensity users (Dorset: HIMSU "nearly half in the social care
data, with a higher rate of unplanned reviews and more repeat requests compared with the rest of the
social care population").

Groups, among the people in the population on the as-of date: `himsu`, `hiu_not_himsu` (a high
intensity user of one service), and `rest` (everyone else with a social care event in the window).
In social care: a social care event dated in the window, or a Service open during it. Requests and
reviews are those dated in the window; a repeat requester made 2 or more requests in it; a review is
unplanned by its reason (`Unplanned - ...`). Per neighbourhood and for the whole area (ALL).
"""

from __future__ import annotations

import duckdb

from cohorts.events import in_window, social_care_involvement
from cohorts.period import Period
from metrics.counterfactual import ALL
from pipeline.duck import row_count

GROUPS = ("himsu", "hiu_not_himsu", "rest")
COUNTS = ("people", "people_in_social_care", "requests", "repeat_request_people", "reviews", "unplanned_reviews")


def build_social_care_profile(
    conn: duckdb.DuckDBPyConnection, period: Period, events: str = "person_events",
    intensity: str = "person_intensity", table: str = "social_care_profile",
) -> int:
    window = in_window(period.start, period.end)
    involved = social_care_involvement(period.start, period.end)
    conn.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH care AS (
            SELECT person_id,
                   count(*) FILTER (WHERE event_type = 'Request' AND {window}) AS requests,
                   count(*) FILTER (WHERE event_type = 'Review' AND {window}) AS reviews,
                   count(*) FILTER (WHERE event_type = 'Review' AND unplanned AND {window}) AS unplanned_reviews
            FROM {events}
            WHERE service = 'social_care' AND (({window}) OR {involved})
            GROUP BY person_id
        ),
        people AS (
            SELECT i.neighbourhood_code,
                   CASE WHEN i.himsu THEN 'himsu' WHEN i.high_intensity_services >= 1 THEN 'hiu_not_himsu' ELSE 'rest' END AS "group",
                   c.person_id IS NOT NULL AS in_social_care,
                   coalesce(c.requests, 0) AS requests, coalesce(c.reviews, 0) AS reviews,
                   coalesce(c.unplanned_reviews, 0) AS unplanned_reviews
            FROM {intensity} i LEFT JOIN care c USING (person_id)
            WHERE i.high_intensity_services >= 1 OR c.person_id IS NOT NULL
        ),
        by_neighbourhood AS (
            SELECT neighbourhood_code, "group", count(*)::BIGINT AS people,
                   count(*) FILTER (WHERE in_social_care)::BIGINT AS people_in_social_care,
                   sum(requests)::BIGINT AS requests,
                   count(*) FILTER (WHERE requests >= 2)::BIGINT AS repeat_request_people,
                   sum(reviews)::BIGINT AS reviews, sum(unplanned_reviews)::BIGINT AS unplanned_reviews
            FROM people GROUP BY ALL
        ),
        every_group AS (
            SELECT n.neighbourhood_code, g."group"
            FROM (SELECT DISTINCT neighbourhood_code FROM {intensity}) n
            CROSS JOIN (SELECT unnest({list(GROUPS)}) AS "group") g
        ),
        complete AS (
            SELECT e.neighbourhood_code, e."group", {", ".join(f"coalesce(b.{c}, 0)::BIGINT AS {c}" for c in COUNTS)}
            FROM every_group e LEFT JOIN by_neighbourhood b USING (neighbourhood_code, "group")
        ),
        with_all AS (
            SELECT * FROM complete
            UNION ALL
            SELECT '{ALL}', "group", {", ".join(f"sum({c})::BIGINT" for c in COUNTS)}
            FROM complete GROUP BY ALL
        )
        SELECT neighbourhood_code, "group", people, people_in_social_care,
               100.0 * people_in_social_care / nullif(people, 0) AS people_in_social_care_pct,
               requests, repeat_request_people,
               100.0 * repeat_request_people / nullif(people_in_social_care, 0) AS repeat_request_pct,
               reviews, unplanned_reviews, 100.0 * unplanned_reviews / nullif(reviews, 0) AS unplanned_review_pct
        FROM with_all
        ORDER BY neighbourhood_code = '{ALL}', neighbourhood_code, list_position({list(GROUPS)}, "group")
        """
    )
    return row_count(conn, table)
