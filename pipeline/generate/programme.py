"""The programme's effect in synthetic data: a known cut in the unplanned care of people 65 and over
once their neighbourhood team is live, so the counterfactual metrics have something true to find.

Each counted ED attendance and emergency admission of a person aged 65 or over on its day, in a
neighbourhood on or after its go-live date, is removed with probability `effect`; a prevented
admission that came through ED takes its ED attendance with it (and `removed` counts that too). The uniform draws
come from their own stream and are drawn for every event whatever the effect, so the events kept
are the same events at every effect size, and `removed` counts exactly what was taken out.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .geography import Geography
from .people import NONE, People
from .timeline import Calendar

OLDEST_UNAFFECTED = 64  # the effect is on people 65 and over


@dataclass
class Programme:
    effect: float
    go_live_day: np.ndarray  # int64 per person: their neighbourhood's go-live day, NONE if not live
    nbh: np.ndarray  # int per person: neighbourhood index
    codes: list[str]
    removed: Counter = field(default_factory=Counter)  # (neighbourhood code, service, year ending) -> events

    def keep(self, service: str, person: np.ndarray, day: np.ndarray, people: People, cal: Calendar,
             rng: np.random.Generator) -> np.ndarray:
        """Boolean mask of the events (person index, day) that happen despite the programme."""
        u = rng.random(person.shape[0])
        age_then = people.age[person] - (cal.end - day) / 365.25
        cut = (age_then >= OLDEST_UNAFFECTED + 1) & (day >= self.go_live_day[person]) & (u < self.effect)
        self.tally(service, person[cut], day[cut], cal)
        return ~cut

    def tally(self, service: str, person: np.ndarray, day: np.ndarray, cal: Calendar) -> None:
        """Count events removed (person index, day) by neighbourhood and by the 12-month year they
        fall in (0 = the last): those `keep` cuts, and the ED attendances that led to a prevented
        admission, which go with it."""
        year = ((cal.end - day) // 365).astype(np.int64)
        for (k, y), n in Counter(zip(self.nbh[person].tolist(), year.tolist())).items():
            self.removed[(self.codes[k], service, y)] += n

    def summary(self) -> dict:
        """Events removed per neighbourhood and service in the last 12 months and over the window."""
        out: dict = {"effect": self.effect, "last_12_months": {}, "whole_window": {}}
        for (code, service, year), n in sorted(self.removed.items()):
            whole = out["whole_window"].setdefault(code, {})
            whole[service] = whole.get(service, 0) + n
            if year == 0:
                out["last_12_months"].setdefault(code, {})[service] = out["last_12_months"].get(code, {}).get(service, 0) + n
        return out


def make_programme(effect: float, people: People, geo: Geography) -> Programme:
    if not 0 <= effect < 1:
        raise ValueError(f"programme effect must be a share from 0 up to 1, not {effect}")
    nbh = geo.practice_nbh[people.practice]
    days = np.array([NONE if d is None else d for d in geo.nbh_go_live], dtype=np.int64)
    return Programme(effect=effect, go_live_day=days[nbh], nbh=nbh, codes=list(geo.nbh_code))
