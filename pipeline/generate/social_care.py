"""Adult social care events (CLD-like): requests, assessments, services and reviews.

Adults only. A person's social care propensity rises steeply with age and with latent need (and is
highest in the complex-needs group), so social care is concentrated in the old, the frail and the
heavy users. Some long-term services were already running before the window (and stay open unless
the person dies, moves or the service ends), for people whose need was high at its start; new
requests in the window lead on to assessments, services and reviews, dated in each period in
proportion to the person's propensity then, so that social care contact starts as need rises. Heavy
users get more repeat requests and more unplanned reviews.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import codes as C
from . import columns as col
from .timeline import Calendar
from .intensity import Need
from .params import Params
from .people import NONE, People
from .util import choice_index, interp_age, numbered_ids, piecewise_days, ragged_index

_ALL_OUTCOMES = C.SC_REQUEST_OUTCOMES + C.SC_ASSESSMENT_OUTCOMES + C.SC_SERVICE_OUTCOMES + C.SC_REVIEW_OUTCOMES
OUTCOMES = list(dict.fromkeys(_ALL_OUTCOMES))  # distinct labels, first-seen order
_OUTCOME_INDEX = np.array([OUTCOMES.index(o) for o in _ALL_OUTCOMES], dtype=np.int32)
_O_REQ, _O_ASS = 0, len(C.SC_REQUEST_OUTCOMES)
_O_SVC = _O_ASS + len(C.SC_ASSESSMENT_OUTCOMES)
_O_REV = _O_SVC + len(C.SC_SERVICE_OUTCOMES)
_LONG_TERM = [5, 4, 3]  # community, residential, nursing (indices into SC_SERVICES)


@dataclass
class _Events:
    person: list
    etype: list
    start: list
    end: list
    route: list
    service: list
    reason: list
    outcome: list

    def add(self, person, etype, start, end, route=None, service=None, reason=None, outcome=None):
        n = person.shape[0]
        fill = lambda a: np.full(n, -1, dtype=np.int32) if a is None else np.asarray(a, dtype=np.int32)  # noqa: E731
        self.person.append(person.astype(np.int32))
        self.etype.append(np.full(n, etype, dtype=np.int8))
        self.start.append(np.asarray(start, dtype=np.int64))
        self.end.append(np.asarray(end, dtype=np.int64))
        self.route.append(fill(route))
        self.service.append(fill(service))
        self.reason.append(fill(reason))
        self.outcome.append(fill(outcome))


def _uniform_days(lo, hi, rng):
    return lo + np.floor(rng.random(lo.shape[0]) * np.maximum(hi - lo, 1)).astype(np.int64)


def build_social_care(people: People, need: Need, heaviness: np.ndarray, cal: Calendar, tokens: pa.Array, params: Params,
                      rng: np.random.Generator) -> pa.Table:
    n = people.n
    age = people.age
    adult_from = people.birth_day.astype(np.int64) + int(18 * 365.25)
    prop = interp_age(age, [(17, 0.0), (18, 0.012), (50, 0.016), (65, 0.03), (75, 0.075), (85, 0.2), (95, 0.34)])
    # hospital-heavy people (heaviness) come to social care more, often on discharge
    prop = prop * params.social_care_scale * np.exp(params.social_care_need * need.mean() + 0.3 * heaviness - 0.35)
    prop = prop * np.where(need.complex_, params.social_care_complex, 1.0)
    lo = np.maximum.reduce([people.reg_start.astype(np.int64), np.full(n, cal.start), adult_from])
    hi = np.minimum(people.active_end().astype(np.int64), cal.end + 1)  # exclusive
    ok = hi > lo
    last = hi - 1
    ev = _Events(*[[] for _ in range(8)])

    # Long-term services running before the window, for people whose need was high at its start
    # (someone whose need climbs in the window comes to social care in it). The tilt is normalised
    # so that the number of such services stays as it was.
    h = need.by_period.astype(np.float64)
    tilt = np.exp(params.social_care_need * (h[:, 0] - h.mean(axis=1)))
    tilt = tilt / tilt.mean()
    pre = ok & (people.reg_start < cal.start) & (rng.random(n) < -np.expm1(-prop * tilt * 0.9))
    pp = np.flatnonzero(pre)
    s_start = cal.start - 1 - np.floor(rng.exponential(2.0 * 365, pp.shape[0])).astype(np.int64)
    s_start = np.maximum.reduce([s_start, people.reg_start[pp].astype(np.int64), adult_from[pp]])
    s_type = np.array(_LONG_TERM)[choice_index(rng, [70, 17, 13], pp.shape[0])]
    services = [(pp, s_start, s_type)]

    # Requests in the window, with assessments and services following some of them.
    years = np.where(ok, (hi - lo) / 365.25, 0.0)
    k_req = rng.poisson(prop * 1.1 * years)
    rp = np.repeat(np.arange(n, dtype=np.int32), k_req)
    # Dated in each period in proportion to the propensity then (the count is the whole window's).
    edges = np.clip(np.broadcast_to(cal.bounds[None, :], (rp.shape[0], cal.bounds.shape[0])),
                    lo[rp, None], hi[rp, None])
    r_day = piecewise_days(edges, np.exp(params.social_care_need * (h[rp] - h[rp].max(axis=1, keepdims=True)))
                           * np.diff(edges, axis=1), rng.random(rp.shape[0]))
    m = rp.shape[0]
    route_w = np.tile(np.asarray(C.SC_ROUTE_WEIGHTS), (m, 1))
    route_w[:, 1] *= np.exp(0.5 * need.mean()[rp])  # hospital discharge more for high users
    route_w[:, 7] += np.where(people.reg_start[rp] >= cal.start, 20.0, 0.0)  # arrivals: transfers
    route = np.minimum((rng.random(m)[:, None] * route_w.sum(1, keepdims=True) >= np.cumsum(route_w, 1)).sum(1), 7)
    path = rng.random(m)
    to_assess = path < 0.55
    to_stmax = (path >= 0.55) & (path < 0.65)
    r_out = np.where(to_assess, 0, np.where(to_stmax, 1, _O_REQ + 2 + choice_index(rng, [45, 30, 15, 10], m)))
    r_end = np.minimum(r_day + rng.integers(0, 8, m), last[rp])
    ev.add(rp, 0, r_day, r_end, route=route, outcome=r_out)

    ap = rp[to_assess]
    a_start = np.minimum(r_day[to_assess] + rng.integers(0, 29, ap.shape[0]), last[ap])
    a_end = np.minimum(a_start + rng.integers(1, 43, ap.shape[0]), last[ap])
    gets_service = rng.random(ap.shape[0]) < 0.62
    a_out = np.where(gets_service, 0, 1 + choice_index(rng, [45, 30, 25], ap.shape[0]))
    keep = a_start < hi[ap]
    ev.add(ap[keep], 1, a_start[keep], a_end[keep], outcome=_O_ASS + a_out[keep])

    # New services: after an assessment (any type) or straight from a request (ST-Max).
    sp1 = ap[gets_service]
    st1 = a_end[gets_service] + rng.integers(0, 15, sp1.shape[0])
    ty1 = choice_index(rng, [35, 10, 15, 5, 7, 28, 0.05], sp1.shape[0])
    sp2 = rp[to_stmax]
    st2 = r_day[to_stmax] + rng.integers(0, 8, sp2.shape[0])
    services.append((sp1, st1, ty1))
    services.append((sp2, st2, np.zeros(sp2.shape[0], dtype=np.int64)))

    sp = np.concatenate([s[0] for s in services]).astype(np.int32)
    s_start = np.concatenate([s[1] for s in services]).astype(np.int64)
    s_type = np.concatenate([s[2] for s in services]).astype(np.int32)
    keep = s_start < hi[sp]
    sp, s_start, s_type = sp[keep], s_start[keep], s_type[keep]
    k = sp.shape[0]
    long_term = s_type >= 3
    # Short-term support lasts weeks; long-term runs until death, moving, or a planned end.
    planned = np.where(long_term, np.maximum(s_start, cal.start) + np.floor(rng.exponential(3.5 * 365, k)).astype(np.int64),
                       s_start + rng.integers(14, 43, k))
    stop_person = people.active_end()[sp].astype(np.int64)
    s_end = np.minimum(planned, stop_person - 1)
    open_ = s_end > cal.end
    s_out = np.where(open_, -1, np.where(
        (stop_person <= cal.end) & (s_end == stop_person - 1),
        np.where(people.death[sp] != NONE, 2, 3),
        np.where(long_term, choice_index(rng, [75, 0, 0, 0, 25], k), choice_index(rng, [55, 30, 0, 0, 15], k))))
    s_end = np.where(open_, NONE, s_end)
    ev.add(sp, 2, s_start, s_end, service=s_type, outcome=np.where(open_, -1, _O_SVC + s_out))

    # Reviews of long-term services: planned on anniversaries, unplanned more for high users.
    lt = np.flatnonzero(long_term)
    lt_end = np.minimum(np.where(open_[lt], cal.end, s_end[lt]), cal.end)
    first_rev = s_start[lt] + 365
    yrs_before = np.maximum(0, np.ceil((cal.start - first_rev) / 365)).astype(np.int64)
    first_rev = first_rev + 365 * yrs_before
    n_rev = np.where(lt_end >= first_rev, (lt_end - first_rev) // 365 + 1, 0)
    parent, rank = ragged_index(n_rev)
    rv_p = sp[lt][parent]
    rv_day = first_rev[parent] + 365 * rank + rng.integers(-20, 21, parent.shape[0])
    n_unpl = rng.poisson(0.22 * np.exp(0.6 * need.mean()[sp[lt]]) * np.maximum(lt_end - np.maximum(s_start[lt], cal.start), 0) / 365.25)
    up_parent = np.repeat(np.arange(lt.shape[0]), n_unpl)
    up_lo = np.maximum(s_start[lt][up_parent], cal.start)
    up_day = _uniform_days(up_lo, lt_end[up_parent] + 1, rng)
    rv_p = np.concatenate([rv_p, sp[lt][up_parent]])
    rv_day = np.concatenate([rv_day, up_day])
    reason = np.concatenate([np.zeros(parent.shape[0], dtype=np.int64),
                             1 + choice_index(rng, C.SC_UNPLANNED_WEIGHTS, up_parent.shape[0])])
    rv_day = np.clip(rv_day, np.maximum(people.reg_start[rv_p], cal.start), last[rv_p])
    rv_end = np.minimum(rv_day + rng.integers(0, 15, rv_day.shape[0]), last[rv_p])
    ev.add(rv_p, 3, rv_day, rv_end, reason=reason,
           outcome=_O_REV + choice_index(rng, [62, 22, 6, 4, 6], rv_day.shape[0]))

    person = np.concatenate(ev.person)
    start = np.concatenate(ev.start)
    end = np.concatenate(ev.end)
    order = np.lexsort((person, start))
    person, start, end = person[order], start[order], end[order]
    etype = np.concatenate(ev.etype)[order]
    cat = lambda parts: np.concatenate(parts)[order]  # noqa: E731
    route, service, reason, outcome = cat(ev.route), cat(ev.service), cat(ev.reason), cat(ev.outcome)
    m = person.shape[0]
    return pa.table({
        "event_id": numbered_ids("CLD", np.arange(1, m + 1), 9),
        "person_id": col.lookup(tokens, person),
        "event_type": col.codes(C.SC_EVENT_TYPES, etype),
        "event_start_date": col.dates(start),
        "event_end_date": col.dates(end, end == NONE),
        "request_route_of_access": col.codes(C.SC_ROUTES, np.maximum(route, 0), route < 0),
        "service_type": col.codes(C.SC_SERVICES, np.maximum(service, 0), service < 0),
        "review_reason": col.codes(C.SC_REVIEW_REASONS, np.maximum(reason, 0), reason < 0),
        "event_outcome": col.codes(OUTCOMES, _OUTCOME_INDEX[np.maximum(outcome, 0)], outcome < 0),
    })
