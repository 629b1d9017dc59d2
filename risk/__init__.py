"""The rising-risk model (issue 9): features as at a date, training, scoring. Plain functions over
DuckDB, no Dagster, so every rule can be tested with a tiny table."""
