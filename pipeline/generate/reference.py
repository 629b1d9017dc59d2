"""The two reference code lists the generator draws from (eFI deficit codes, HFRS ICD-10 codes)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa



@dataclass
class EfiCodes:
    codes: pa.Array          # distinct SNOMED codes (strings, digits only), sorted
    entry_code: np.ndarray   # per (deficit, code) entry: index into codes
    cum: np.ndarray          # cumulative draw weight over entries, grouped by deficit
    lo: np.ndarray           # per deficit number (0..36): first cumulative position
    hi: np.ndarray           # per deficit number: last cumulative position

    def draw(self, deficit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One code index per row for the given deficit numbers."""
        a, b = self.lo[deficit], self.hi[deficit]
        target = a + rng.random(deficit.shape[0]) * (b - a)
        pos = np.searchsorted(self.cum, target, side="right")
        return self.entry_code[np.clip(pos, 0, self.entry_code.shape[0] - 1)]


@dataclass
class HfrsCodes:
    codes: list[str]          # three-character ICD-10 codes
    points: np.ndarray


def load_efi(path: Path) -> EfiCodes:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = r["snomed_code"].strip()
            if code.isdigit():
                rows.append((int(r["deficit_number"]), code))
    rows = sorted(set(rows))  # stable order whatever the file order
    distinct = sorted({c for _, c in rows}, key=lambda c: (len(c), c))
    index = {c: i for i, c in enumerate(distinct)}
    n_deficits = {}
    for _, c in rows:
        n_deficits[c] = n_deficits.get(c, 0) + 1
    deficit = np.array([d for d, _ in rows], dtype=np.int64)
    entry_code = np.array([index[c] for _, c in rows], dtype=np.int64)
    # codes that count for two deficits are drawn three times as often, so they do occur
    weight = np.array([3.0 if n_deficits[c] > 1 else 1.0 for _, c in rows])
    cum = np.cumsum(weight)
    start = np.concatenate([[0.0], cum[:-1]])
    lo = np.zeros(37)
    hi = np.zeros(37)
    for d in range(37):
        sel = np.flatnonzero(deficit == d)
        if sel.size:
            lo[d], hi[d] = start[sel[0]], cum[sel[-1]]
    return EfiCodes(codes=pa.array(distinct, pa.string()), entry_code=entry_code, cum=cum, lo=lo, hi=hi)


def load_hfrs(path: Path) -> HfrsCodes:
    with open(path, newline="", encoding="utf-8") as f:
        rows = sorted((r["icd10_3char"].strip().upper(), float(r["points"])) for r in csv.DictReader(f))
    return HfrsCodes(codes=[c for c, _ in rows], points=np.array([p for _, p in rows]))

