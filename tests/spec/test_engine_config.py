"""The machine tuning a run's DuckDB connection takes from the environment."""

import pytest

from pipeline.resources import MEMORY_LIMIT, MEMORY_LIMIT_VARIABLE, THREADS_VARIABLE, engine_config


def test_without_variables_duckdb_is_capped_and_uses_every_core(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert engine_config() == {"memory_limit": MEMORY_LIMIT}


def test_the_variables_set_memory_and_threads(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "6GB")
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert engine_config() == {"memory_limit": "6GB", "threads": 3}


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_thread_count_that_is_not_a_whole_number_of_1_or_more_is_refused(monkeypatch, value):
    monkeypatch.setenv(THREADS_VARIABLE, value)
    with pytest.raises(ValueError, match=THREADS_VARIABLE):
        engine_config()
