import pytest
from hypothesis import HealthCheck, settings

# Properties are about behaviour; how long one example takes belongs in `make bench`, not here.
settings.register_profile("hiu", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hiu")


@pytest.fixture(autouse=True)
def _throwaway_dagster_instance(monkeypatch):
    """Tests never write runs into the project's Dagster instance (make run / make ui share it)."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for variable in ("HIU_EXTRACTS_DIR", "HIU_OUTPUT_DIR", "HIU_WAREHOUSE", "HIU_AS_OF"):
        monkeypatch.delenv(variable, raising=False)

