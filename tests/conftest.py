import pytest
from hypothesis import HealthCheck, settings

# Properties are about behaviour; how long one example takes belongs in `make bench`, not here.
settings.register_profile("hiu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hiu")


@pytest.fixture(autouse=True)
def _throwaway_dagster_instance(monkeypatch):
    """Tests never write runs into the project's Dagster instance (make run / make ui share it)."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    from pipeline.settings import ENVIRONMENT

    for variable in ENVIRONMENT.values():  # a developer's own HIU_* settings must not change what tests see
        monkeypatch.delenv(variable, raising=False)

