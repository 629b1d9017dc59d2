from pathlib import Path

import pytest

from pipeline.runner import materialize_all
from pipeline.settings import HiuSettings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The whole pipeline once on the committed sample drop: its output folder (the sample's tests
    and the report's share it)."""
    folder = tmp_path_factory.mktemp("sample_run")
    settings = HiuSettings(extracts_dir=str(SAMPLE), output_dir=str(folder / "out"), warehouse=str(folder / "w.duckdb"))
    outcome = materialize_all(settings)
    assert outcome.ok, outcome.failures
    return folder / "out"
