"""Metadata an engineer wants on every table asset: row count, column schema, and a preview for
tables of counts. Patient-level rows stay in the warehouse and the outputs: never in metadata."""


import duckdb
import dagster as dg
from pipeline.duck import row_count


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str, preview_rows: int = 20, model=None, preview: bool = False,
                   terms: dict | None = None) -> dict:
    """`model`: a pandera model whose field descriptions describe the columns in the UI, with the
    run's numbers (`terms`) written into them. `preview`: only for tables of aggregate counts, never
    person-level ones."""
    described = {n: (c.description or "").format(**(terms or {})) for n, c in model.to_schema().columns.items()} if model else {}
    columns = conn.execute(f"DESCRIBE {table}").fetchall()
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(row_count(conn, table)),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name=name, type=str(sql_type), description=described.get(name))
                for name, sql_type, *_ in columns
            ]
        ),
        "dagster/table_name": dg.MetadataValue.text(table),
    }
    if preview:
        metadata["preview"] = dg.MetadataValue.md(markdown_table(conn.sql(f"SELECT * FROM {table} LIMIT {preview_rows}").pl()))
    return metadata


def markdown_table(frame) -> str:
    """A small polars frame as a markdown table (no extra dependency)."""
    if frame.height == 0:
        return "_no rows_"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])


def counts_markdown(counts: dict[str, int], key: str = "reason", value: str = "rows") -> str:
    if not counts:
        return "_none_"
    lines = [f"| {key} | {value} |", "| --- | ---: |"]
    lines += [f"| {k} | {v:,} |" for k, v in counts.items()]
    return "\n".join(lines)
