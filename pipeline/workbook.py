"""A cohort list as an Excel workbook, for the INT leads who open, filter and forward it.

Written with XlsxWriter, one cell at a time with the writer for its type: ids and codes go in as
text cells (a spreadsheet keeps `0062533197248372` and `640693096024e057` as they are, and a text
cell is never run as a formula), counts and scores as numbers, dates as dates. The first sheet is
the list (readable headings, frozen header row, filters; true/false as Yes/No); the second, "About this list", says what
the list is, for when, how it was made and how it may be shared."""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter

ABOUT_SHEET = "About this list"
LINE_HEIGHT = 15  # points, one line of the default font
YES, NO = "Yes", "No"
WIDEST_COLUMN = 60
# Cells are written one at a time in Python, so a million people's lists take seconds per list kind
# with the second core idle. From this many rows in all, two processes write the workbooks at once;
# below it, starting them costs more than it saves (a worker takes about half a second to start).
PARALLEL_ROWS = 20_000


@dataclass(frozen=True)
class ListSheet:
    """What the workbook says about its list."""

    title: str  # the list sheet's name, e.g. "High intensity users"
    columns: list[tuple[str, str]]  # (column, heading) in sheet order
    decimals: dict[str, int]  # scores rounded for display
    about: list[tuple[str, str]]  # (item, text) on the About sheet, in order
    dictionary: pl.DataFrame  # column, heading, description (the data dictionary)
    comment: str = "Pseudonymised list for direct care: see the About sheet."  # the file's properties


def write_workbook(frame: pl.DataFrame, path: Path, sheet: ListSheet) -> None:
    """`path` (an .xlsx) holding `frame`'s rows in `sheet.columns` order, and the About sheet."""
    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False, "constant_memory": True}
    with xlsxwriter.Workbook(str(path), options) as book:
        book.set_properties({"title": sheet.title, "comments": sheet.comment})
        header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DCE6F1", "border": 1})
        formats = {
            "text": book.add_format({"num_format": "@"}),
            "whole": book.add_format({"num_format": "0"}),
            "date": book.add_format({"num_format": "yyyy-mm-dd"}),
            **{f"decimals{d}": book.add_format({"num_format": "0." + "0" * d}) for d in set(sheet.decimals.values())},
            "number": book.add_format({"num_format": "General"}),
        }
        _write_list(book.add_worksheet(sheet.title[:31]), frame, sheet, header, formats)
        _write_about(book, sheet, header)


def write_workbooks(jobs: list[tuple[pl.DataFrame, Path, ListSheet]]) -> None:
    """`write_workbook` for each (frame, path, sheet), on two processes when there are many rows.
    The files are the same either way; an error in any of them is raised here."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)  # a container's own
    workers = min(2, cores, len(jobs))
    if workers < 2 or sum(frame.height for frame, _, _ in jobs) < PARALLEL_ROWS:
        for job in jobs:
            write_workbook(*job)
        return
    # spawn, not fork: the parent holds DuckDB's and Dagster's threads, which a fork would copy mid-flight
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        largest_first = sorted(jobs, key=lambda job: -job[0].height)
        list(pool.map(write_workbook, *zip(*largest_first)))  # list(): a worker's error is raised here


def _write_list(worksheet, frame: pl.DataFrame, sheet: ListSheet, header, formats: dict) -> None:
    names = [c for c, _ in sheet.columns]
    writers = [_cell_writer(worksheet, frame.schema[name], sheet.decimals.get(name), formats) for name in names]
    for col, (name, heading) in enumerate(sheet.columns):
        worksheet.set_column(col, col, _width(frame, name, heading))
    worksheet.set_row(0, 30)
    for col, (_, heading) in enumerate(sheet.columns):
        worksheet.write_string(0, col, heading, header)
    for row, values in enumerate(frame.select(names).iter_rows(), start=1):
        for col, value in enumerate(values):
            writers[col](row, col, value)
    worksheet.freeze_panes(1, 0)
    worksheet.autofilter(0, 0, max(frame.height, 1), len(names) - 1)
    # printed for a meeting: landscape, as wide as one page, the headings on every page
    worksheet.set_landscape()
    worksheet.set_paper(9)  # A4
    worksheet.fit_to_pages(1, 0)
    worksheet.repeat_rows(0)


def _cell_writer(worksheet, dtype: pl.DataType, decimals: int | None, formats: dict):
    """The XlsxWriter call for one column's cells: the type decides, never the value's look."""

    def blank_or(write):
        def _write(row: int, col: int, value) -> None:
            if value is None:
                worksheet.write_blank(row, col, None)
            else:
                write(row, col, value)
        return _write

    if dtype == pl.String:
        return blank_or(lambda r, c, v: worksheet.write_string(r, c, v, formats["text"]))
    if dtype == pl.Boolean:  # words, not TRUE/FALSE cells (which LibreOffice re-saves as formulas)
        return blank_or(lambda r, c, v: worksheet.write_string(r, c, YES if v else NO, formats["text"]))
    if dtype == pl.Date:
        return blank_or(lambda r, c, v: worksheet.write_datetime(r, c, dt.datetime.combine(v, dt.time()), formats["date"]))
    if dtype.is_integer():
        return blank_or(lambda r, c, v: worksheet.write_number(r, c, v, formats["whole"]))
    if decimals is not None:
        return blank_or(lambda r, c, v: worksheet.write_number(r, c, round(v, decimals), formats[f"decimals{decimals}"]))
    return blank_or(lambda r, c, v: worksheet.write_number(r, c, v, formats["number"]))


def _width(frame: pl.DataFrame, name: str, heading: str) -> int:
    longest = frame.head(500).select(pl.col(name).cast(pl.String).str.len_chars().max()).item() or 0
    return min(WIDEST_COLUMN, max(10, min(len(heading), 24), longest + 2))


def _lines(text: str, characters_per_line: int) -> int:
    """How many lines a wrapped cell needs (merged cells and LibreOffice do not grow rows themselves)."""
    return max(1, sum(math.ceil(max(len(part), 1) / characters_per_line) for part in text.split("\n")))


def _write_about(book, sheet: ListSheet, header) -> None:
    about = book.add_worksheet(ABOUT_SHEET)
    label = book.add_format({"bold": True, "valign": "top", "text_wrap": True})
    wrapped = book.add_format({"text_wrap": True, "valign": "top"})
    widths = (28, 34, 90)
    for col, width in enumerate(widths):
        about.set_column(col, col, width)
    row = 0
    for item, text in sheet.about:
        about.set_row(row, LINE_HEIGHT * _lines(text, int((widths[1] + widths[2]) * 0.95)))
        about.write_string(row, 0, item, label)
        about.merge_range(row, 1, row, 2, text, wrapped)
        row += 1
    row += 1
    about.write_string(row, 0, "Column heading", header)
    about.write_string(row, 1, "Column in the CSV and Parquet", header)
    about.write_string(row, 2, "What it means", header)
    meanings = dict(zip(sheet.dictionary["column"], sheet.dictionary["description"]))
    for column, heading in sheet.columns:
        row += 1
        meaning = meanings.get(column, "")
        about.set_row(row, LINE_HEIGHT * max(_lines(meaning, int(widths[2] * 0.95)), _lines(heading, int(widths[0] * 0.9))))
        about.write_string(row, 0, heading, wrapped)
        about.write_string(row, 1, column, wrapped)
        about.write_string(row, 2, meaning, wrapped)
    about.set_landscape()
    about.fit_to_pages(1, 0)


def workbook_ids(path: Path, heading: str = "Person ID") -> list[str]:
    """The person ids of a list workbook's first sheet, in order, as text: a check reads every
    workbook back, with calamine (fastexcel), which reads a sheet's column in a fraction of a second."""
    import fastexcel

    sheet = fastexcel.read_excel(str(path)).load_sheet(0, use_columns=[heading], dtypes={heading: "string"})
    return sheet.to_polars()[heading].to_list()
