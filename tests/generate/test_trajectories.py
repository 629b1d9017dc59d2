"""Trajectories in the generator (issue 9, point 6): frailty is recorded and social care starts as
need rises, so a person whose need climbs has fewer deficits and less social care contact at an
earlier feature date than at a later one."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import numpy as np
import pytest

from pipeline.generate import generate_drop
from pipeline.generate.frailty import AGEING, accumulation
from pipeline.generate.params import Latent, Params
from pipeline.generate.util import piecewise_days

from .test_generate import read


def test_piecewise_days_stay_in_their_segments_with_their_shares():
    m = 200_000
    edges = np.tile([0, 10, 10, 40, 50], (m, 1))  # the second segment is empty
    day = piecewise_days(edges, np.tile([1.0, 5.0, 1.0, 2.0], (m, 1)), np.random.default_rng(0).random(m))
    assert day.min() == 0 and day.max() == 49
    shares = [((day >= a) & (day < b)).mean() for a, b in ((0, 10), (10, 40), (40, 50))]
    assert shares == pytest.approx([0.25, 0.25, 0.5], abs=0.01)
    # uniform inside a segment
    assert np.bincount(day[day >= 40] - 40, minlength=10) / (day >= 40).sum() == pytest.approx(np.full(10, 0.1), abs=0.01)


def test_piecewise_days_with_no_mass_are_uniform_over_the_segments():
    m = 100_000
    edges = np.tile([5, 5, 15, 25], (m, 1))
    day = piecewise_days(edges, np.zeros((m, 3)), np.random.default_rng(1).random(m))
    assert day.min() == 5 and day.max() == 24
    assert ((day >= 15).mean()) == pytest.approx(0.5, abs=0.01)


def test_piecewise_days_never_leave_the_last_segment_with_mass():
    edges = np.array([[0, 10, 20, 20]] * 3)
    u = np.array([0.0, 0.5, np.nextafter(1.0, 0.0)])
    day = piecewise_days(edges, np.array([[1.0, 1.0, 0.0]] * 3), u)
    assert day.tolist() == [0, 10, 19]


def test_deficits_accumulate_with_need():
    periods = 6
    flat = np.zeros(periods)
    rising = 0.22 * np.arange(periods)
    falling = -rising
    share = accumulation(np.stack([flat, rising, falling]).astype(np.float32))
    assert share.shape == (3, periods)
    assert share.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-6)
    assert (share >= 0).all()
    # flat need: a few new deficits a period, from ageing alone
    assert share[0, 0] == pytest.approx(np.exp(-AGEING * (periods - 1)), rel=1e-5)
    # rising need: many more recorded in the window; falling need: none new
    assert share[1, 0] < 0.5 < share[0, 0]
    assert share[2, 0] == pytest.approx(1.0) and share[2, 1:].sum() == pytest.approx(0.0)


def _late_shares(rising_share: float, tmp_path) -> dict[str, float]:
    """Share of window-dated first eFI codes and of social care requests in the window's second half."""
    params = Params(latent=replace(Latent(), rising_share=rising_share, rising_slope=0.3))
    out = tmp_path / f"rising_{rising_share}"
    summary = generate_drop(4000, 5, out, params=params, progress=False)
    start = date.fromisoformat(summary["window_start"])
    mid = date(2023, 9, 30)  # halfway through the 36 months to 2025-03-31
    c = duckdb.connect()
    for name in ("gp_coded_events", "social_care_events"):
        c.register(name, read(out, name))
    efi = c.execute(
        f"""SELECT avg((first > DATE '{mid}')::INT) FROM (
            SELECT person_id, snomed_code, min(event_date) AS first FROM gp_coded_events GROUP BY ALL)
            WHERE first >= DATE '{start}'"""
    ).fetchone()[0]
    requests = c.execute(
        f"""SELECT avg((event_start_date > DATE '{mid}')::INT) FROM social_care_events
            WHERE event_type = 'Request'"""
    ).fetchone()[0]
    return {"efi": efi, "requests": requests}


def test_when_need_climbs_frailty_and_social_care_come_later(tmp_path):
    steady = _late_shares(0.0, tmp_path)
    climbing = _late_shares(1.0, tmp_path)
    # steady need: new deficits and requests spread over the window (a little later from ageing)
    assert 0.4 < steady["efi"] < 0.65 and 0.4 < steady["requests"] < 0.6
    assert climbing["efi"] > steady["efi"] + 0.1
    assert climbing["requests"] > steady["requests"] + 0.05
