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
    yield
    # A Dagster instance a test opened and never closed (a schedule or sensor context's own copy,
    # say) stays the process's definitions-state storage; once collected, every later load of the
    # definitions in that worker fails. Name the test that left it, not the one that trips on it.
    from dagster._core.storage.defs_state.base import DefsStateStorage

    assert DefsStateStorage.get() is None, "this test left a Dagster instance open (close its contexts with `with`)"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(config, items):
    """How `make test` shares the two workers (pytest-xdist, `--dist loadgroup`). A test using one of
    our session-scoped fixtures (the sample run) goes to that fixture's group, and a test using a
    module-scoped one to its file's group, so each expensive fixture is built once; every other test
    is spread on its own, so a long file of independent end-to-end runs keeps both workers busy."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        ours = [
            definitions[-1]
            for definitions in (info.name2fixturedefs.values() if info else [])
            if definitions and getattr(definitions[-1].func, "__module__", "").startswith("tests")
        ]
        session = sorted(d.argname for d in ours if d.scope == "session")
        if session:
            _join_group(config, item, session[0])
        elif any(d.scope in ("module", "package") for d in ours):
            _join_group(config, item, item.nodeid.split("::")[0])


def _join_group(config, item, name: str) -> None:
    item.add_marker(pytest.mark.xdist_group(name=name))
    # pytest-xdist 3.8 puts the group in the test's id by setting `item._nodeid`, which pytest 9 no
    # longer reads (the id is `item._id`), so every group was spread over both workers and each
    # expensive fixture built twice. The id is tagged here as xdist means to tag it.
    if config.getoption("loadgroup", default=False) and hasattr(item, "_id") and "@" not in item.nodeid:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{name}")
