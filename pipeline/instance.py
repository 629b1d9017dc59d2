"""The Dagster instance's home (DAGSTER_HOME): the project's dagster.yaml, with its storage chosen
here. SQLite files in the home by default; a PostgreSQL database when DAGSTER_PG_URL is set, as a
production deployment keeps its run history, event log and schedules. The URL stays in the
environment (the file says `env: DAGSTER_PG_URL`), so no password is ever written to disk.

`make setup` runs `python -m pipeline.instance .dagster`; a deployment runs it on its own home.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from pipeline.files import write_text_whole

PROJECT_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
# A deployment partitioned by ICB runs several ICBs at once, one run per ICB (deploy/README.md).
PARTITIONED_CONCURRENCY = Path(__file__).resolve().parents[1] / "deploy" / "dagster-icb.yaml"
PG_URL = "DAGSTER_PG_URL"
POSTGRES_STORAGE = f"""
# Added by pipeline.instance: {PG_URL} is set, so runs, events and schedules are kept in PostgreSQL.
storage:
  postgres:
    postgres_url:
      env: {PG_URL}
"""


def instance_yaml(environ: Mapping[str, str] = os.environ, project_yaml: Path = PROJECT_YAML) -> str:
    text = project_yaml.read_text(encoding="utf-8")
    if environ.get("HIU_PARTITION_BY") == "icb":
        settings = yaml.safe_load(text)
        settings.update(yaml.safe_load(PARTITIONED_CONCURRENCY.read_text(encoding="utf-8")))
        text = (f"# {project_yaml.name} with the concurrency of {PARTITIONED_CONCURRENCY.name} (HIU_PARTITION_BY=icb)\n"
                + yaml.safe_dump(settings, sort_keys=False))
    return text + POSTGRES_STORAGE if environ.get(PG_URL) else text


def prepare_home(home: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Write `home`/dagster.yaml (aside, then renamed into place); returns its path."""
    home.mkdir(parents=True, exist_ok=True)
    write_text_whole(home / "dagster.yaml", instance_yaml(environ))
    return home / "dagster.yaml"


if __name__ == "__main__":
    written = prepare_home(Path(sys.argv[1]))
    storage = "PostgreSQL (DAGSTER_PG_URL)" if os.environ.get(PG_URL) else "SQLite in the home"
    print(f"{written}: storage {storage}")
