"""The Dagster definitions load, and every asset is described, grouped, and in the DuckDB pool."""

import dagster as dg

from pipeline.definitions import defs
from pipeline.resources import WAREHOUSE_POOL
from schemas.extracts import EXTRACTS


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_every_asset_has_a_description_and_a_group():
    specs = list(defs.resolve_all_asset_specs())
    for spec in specs:
        assert spec.description, spec.key
        assert spec.group_name != "default", spec.key
    assert len({spec.group_name for spec in specs}) >= 4


def test_every_asset_joins_the_duckdb_pool():
    for key in defs.resolve_all_asset_keys():
        assert defs.resolve_assets_def(key).op.pool == WAREHOUSE_POOL, key


def test_lineage_runs_from_every_extract_to_the_neighbourhood_exports():
    graph = defs.resolve_asset_graph()
    for name in EXTRACTS:
        downstream = graph.get(dg.AssetKey(f"raw_{name}")).child_keys
        reached, frontier = set(), set(downstream)
        while frontier:
            key = frontier.pop()
            reached.add(key)
            frontier |= set(graph.get(key).child_keys) - reached
        assert dg.AssetKey("published_outputs") in reached, name
    cohort_files_parents = graph.get(dg.AssetKey("neighbourhood_cohort_files")).parent_keys
    assert dg.AssetKey("hiu_cohort") in cohort_files_parents


def test_staging_tables_and_exports_have_blocking_checks():
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys if graph.get(key).blocking}
    for name in EXTRACTS:
        assert f"stg_{name}" in checked
    assert {"hiu_cohort", "neighbourhood_cohort_files", "service_concentration"} <= checked


def test_every_check_is_blocking_so_it_runs_before_what_depends_on_it():
    graph = defs.resolve_asset_graph()
    assert graph.asset_check_keys
    for key in graph.asset_check_keys:
        assert graph.get(key).blocking, key


def test_every_asset_is_published_through_published_outputs():
    """The warehouse switches when published_outputs runs: every asset must be upstream of it, so
    that no step (and no check) runs after the switch."""
    graph = defs.resolve_asset_graph()
    upstream, frontier = set(), {dg.AssetKey("published_outputs")}
    while frontier:
        key = frontier.pop()
        upstream.add(key)
        frontier |= set(graph.get(key).parent_keys) - upstream
    assert set(defs.resolve_all_asset_keys()) == upstream
