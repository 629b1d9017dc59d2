"""Cohort workbooks written on two processes (a large run's lists) hold exactly what one process
writes, and a workbook that cannot be written fails the call, whichever process wrote it."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor

import openpyxl
import polars as pl
import pytest
from xlsxwriter.exceptions import FileCreateError

import pipeline.workbook
from pipeline.workbook import ListSheet, write_workbooks

SHEET = ListSheet(
    "High intensity users", [("person_id", "Person ID"), ("gp", "GP appointments"), ("seen", "Seen on"), ("frail", "Frail")],
    {}, [("Neighbourhood", "North")], pl.DataFrame({"column": ["person_id"], "description": ["who"]}),
)


def frame(people: int, start: int = 0) -> pl.DataFrame:
    return pl.DataFrame({
        "person_id": [f"00{i:06d}" for i in range(start, start + people)],
        "gp": list(range(people)),
        "seen": [dt.date(2025, 1, 1) + dt.timedelta(days=i % 90) for i in range(people)],
        "frail": [None if i % 3 == 0 else i % 2 == 0 for i in range(people)],
    })


def cells(path) -> list[tuple]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [tuple(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def test_two_processes_write_the_same_workbooks_as_one(tmp_path, monkeypatch):
    parts = {"north": frame(300), "south": frame(5, 1000), "east": frame(0)}
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
    write_workbooks([(rows, one / f"{code}.xlsx", SHEET) for code, rows in parts.items()])  # 305 rows: one process
    monkeypatch.setattr(pipeline.workbook, "PARALLEL_ROWS", 1)
    started = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            started.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pipeline.workbook, "ProcessPoolExecutor", Pool)
    write_workbooks([(rows, two / f"{code}.xlsx", SHEET) for code, rows in parts.items()])
    assert started, "the workbooks were not written on a pool of processes"
    for code in parts:
        assert cells(one / f"{code}.xlsx") == cells(two / f"{code}.xlsx")
    assert cells(two / "north.xlsx")[1] == ("00000000", 0, dt.datetime(2025, 1, 1), None)


def test_a_workbook_a_worker_cannot_write_fails_the_call(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline.workbook, "PARALLEL_ROWS", 1)
    jobs = [(frame(50), tmp_path / "north.xlsx", SHEET), (frame(50), tmp_path / "missing" / "south.xlsx", SHEET)]
    with pytest.raises(FileCreateError, match="missing"):
        write_workbooks(jobs)
