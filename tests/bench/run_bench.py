"""`make bench`: the speed and memory targets of issue 12 (and the calibration of issues 3 and 10),
measured and written to bench-results/latest.md (and .json). Never run as a test: timings belong
here, not in assertions.

1. Drops of 250,000, 1,000,000 and 5,000,000 people (36 months), generated once under
   $HIU_BENCH_DIR (default /tmp/hiu-bench) and reused while the generator's source is unchanged;
   `hiu generate` at 1,000,000 is timed when that drop is made (target: 90 s), and the time kept
   with the drop.
2. For each drop, `hiu run` end to end (wall seconds and peak resident memory) with every step
   timed from its Dagster event log, and in the same bench the floor: `tests/bench/floor.py`, the
   same deliverable by hand, whose cohort must equal the pipeline's.
3. Targets at 1,000,000 people: the work the floor also does (the run less its rising-risk and
   counterfactual/follow-up steps) at most 5 times the floor; the whole run at most 120 s and 4 GB;
   rising risk at most 30 s of it, the counterfactual and follow-up metrics at most 15; 250,000 to
   1,000,000 at most 4.5 times the cost; 5,000,000 within 12 GB.
4. Calibration on the 1,000,000 run: the BCP figures in their bands, the programme effect found where
   `hiu generate` put it and not elsewhere, and Dorset's social care pattern.

`HIU_BENCH_SIZES=250000,1000000` runs fewer sizes (the targets that need a missing size say so).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from pipeline.resources import MEMORY_LIMIT
from tests.bench.figures import BANDS, figures, in_band
from tests.bench.floor import same_cohort

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
WORK = Path(os.environ.get("HIU_BENCH_DIR", "/tmp/hiu-bench"))
HIU = str(Path(sys.executable).parent / "hiu")
SEED = int(os.environ.get("HIU_BENCH_SEED", "7"))


def timed(command: list[str], env: dict | None = None, output: list | None = None) -> dict:
    """Run under /usr/bin/time -v: wall seconds and peak resident memory (stdout into `output`).
    The shell's own HIU_* settings are left out: the bench runs the defaults, as the floor does."""
    from pipeline.settings import ENVIRONMENT

    clean = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT.values()}
    completed = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env={**clean, **(env or {})})
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    if output is not None:
        output.append(completed.stdout)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", completed.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr).group(1))
    return {"seconds": round(hours * 3600 + minutes * 60 + seconds, 1), "peak_rss_mb": round(rss_kb / 1024)}


RISK_STEPS = ("risk_features", "rising_risk", "neighbourhood_rising_risk_files")
# Issue 12's "counterfactual and follow-up metrics": their assets and checks (the social care profile
# and the metric files, which the floor's deliverable has no part of either, stay in the comparable work).
COUNTERFACTUAL_STEPS = ("monthly_population", "monthly_neighbourhood_activity", "counterfactual_activity",
                        "cohort_followup")


SIZES = (250_000, 1_000_000, 5_000_000)
MONTHS = 36
# The 5,000,000-person run: DuckDB's cap (it spills to the warehouse's .tmp folder beyond it), so
# that the run, Python and Dagster stay within the 12 GB target.
LARGE_MEMORY_LIMIT = "8GB"


def sizes() -> list[int]:
    chosen = os.environ.get("HIU_BENCH_SIZES")
    return [int(n) for n in chosen.split(",")] if chosen else list(SIZES)


def label(people: int) -> str:
    return f"{people // 1_000_000}m" if people % 1_000_000 == 0 else f"{people // 1000}k"


def generator_fingerprint() -> str:
    """The generator's source and what it reads (code lists, the command line, the libraries that
    draw its numbers): a drop made by other code is made again."""
    digest = hashlib.sha256()
    sources = [*(ROOT / "pipeline" / "generate").glob("*.py"), *(ROOT / "data" / "reference").rglob("*.csv"),
               ROOT / "pipeline" / "cli.py", ROOT / "pipeline" / "reference_data.py", ROOT / "schemas" / "nhs_number.py"]
    for path in sorted(sources):
        digest.update(path.read_bytes())
    digest.update(" ".join(f"{n} {metadata.version(n)}" for n in ("numpy", "pyarrow")).encode())
    return digest.hexdigest()[:16]


def drop_for(people: int) -> tuple[Path, dict]:
    """The bench drop of `people` people (made now, or reused), with how long `hiu generate` took
    and what it said it cut."""
    drop = WORK / f"drop-{label(people)}"
    marker = WORK / f"drop-{label(people)}.json"
    wanted = {"population": people, "seed": SEED, "months": MONTHS, "generator": generator_fingerprint()}
    if marker.exists() and drop.is_dir():
        made = json.loads(marker.read_text())
        if {k: made.get(k) for k in wanted} == wanted:
            return drop, {**made, "reused": True}
    marker.unlink(missing_ok=True)  # written again only once the drop is whole
    shutil.rmtree(drop, ignore_errors=True)
    said: list[str] = []
    generated = timed([HIU, "generate", "--population", str(people), "--seed", str(SEED), "--months", str(MONTHS),
                       "--out", str(drop), "--no-progress"], output=said)
    made = {**wanted, "generate": generated, "generated_on": dt.date.today().isoformat(),
            "injected": injected_by_generate(said[0])}
    marker.write_text(json.dumps(made, indent=2) + "\n")
    return drop, {**made, "reused": False}


def run_and_floor(people: int, drop: Path) -> dict:
    """`hiu run` on the drop with a fresh instance and warehouse, its steps from the event log; then
    the floor on the same drop, and whether their cohorts are equal."""
    name = label(people)
    home, output, warehouse = WORK / f"dagster-home-{name}", WORK / f"outputs-{name}", WORK / f"warehouse-{name}.duckdb"
    for path in (home, output, WORK / f"warehouse-{name}.duckdb.tmp"):
        shutil.rmtree(path, ignore_errors=True)
    warehouse.unlink(missing_ok=True)
    home.mkdir(parents=True)
    env = {"DAGSTER_HOME": str(home)}
    if people > 1_000_000:
        env["HIU_DUCKDB_MEMORY_LIMIT"] = LARGE_MEMORY_LIMIT
    printed: list[str] = []
    run = timed([HIU, "run", "--extracts", str(drop), "--output", str(output), "--warehouse", str(warehouse)],
                env=env, output=printed)
    run_id = re.search(r"\(run ([0-9a-f-]{36})\)", printed[0]).group(1)
    steps = json.loads(subprocess.run(
        [sys.executable, "-m", "tests.bench.step_times", run_id], capture_output=True, text=True, check=True,
        env={**os.environ, **env}, cwd=ROOT,
    ).stdout)
    floor_out = WORK / f"floor-{name}"
    floor_said: list[str] = []
    # The floor gets the run's memory cap and every core, as the run's DuckDB does.
    floor = timed([sys.executable, "-m", "tests.bench.floor", str(drop), str(floor_out), "--threads", str(os.cpu_count()),
                   "--memory-limit", env.get("HIU_DUCKDB_MEMORY_LIMIT", MEMORY_LIMIT)], output=floor_said)
    floor.update(json.loads(floor_said[0].strip().splitlines()[-1]))
    risk = sum(v for k, v in steps.items() if k.startswith(RISK_STEPS))
    programme = sum(v for k, v in steps.items() if k.startswith(COUNTERFACTUAL_STEPS))
    comparable = run["seconds"] - risk - programme
    shutil.rmtree(home, ignore_errors=True)
    return {
        "people": people,
        "run": run,
        "steps": steps,
        "rising_risk_seconds": round(risk, 1),
        "counterfactual_followup_seconds": round(programme, 1),
        "comparable_seconds": round(comparable, 1),
        "floor": floor,
        "ratio_to_floor": round(comparable / floor["seconds"], 2),
        "same_cohort": same_cohort(floor_out, output),
        "output": str(output),
    }


def versions() -> dict:
    return {"python": platform.python_version(),
            **{name: metadata.version(name) for name in ("dagster", "duckdb", "polars", "pyarrow", "scikit-learn")}}


def main() -> None:
    if not Path("/usr/bin/time").exists():
        raise SystemExit("make bench needs /usr/bin/time (Debian package 'time')")
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB",
                     "versions": versions(), "seed": SEED, "months": MONTHS, "runs": {}}
    for people in sizes():
        drop, made = drop_for(people)
        results["runs"][label(people)] = {"drop": made, **run_and_floor(people, drop)}
        print(f"{people:,} people: run {results['runs'][label(people)]['run']}", flush=True)
    runs = results["runs"]
    targets: dict[str, bool | None] = {}
    if "1m" in runs:
        one = runs["1m"]
        output = Path(one["output"])
        values = figures(output)
        results["figures"] = {name: {"value": values[name], "band": BANDS[name], "in_band": in_band(name, values[name])}
                              for name in BANDS}
        results["population_1m"] = {"population": values["population"], "himsu_people": values["himsu_people"]}
        results["social_care_1m"] = social_care_profile(output)
        results["programme_effect_1m"] = programme_effect(output, one["drop"]["injected"])
        targets.update({
            "generate_1m_within_90s": one["drop"]["generate"]["seconds"] <= 90,
            "run_1m_within_5x_floor": one["ratio_to_floor"] <= 5,
            "run_1m_within_120s": one["run"]["seconds"] <= 120,
            "run_1m_within_4gb": one["run"]["peak_rss_mb"] <= 4096,
            "rising_risk_1m_within_30s": one["rising_risk_seconds"] <= 30,
            "counterfactual_followup_1m_within_15s": one["counterfactual_followup_seconds"] <= 15,
            "every_figure_in_band": all(f["in_band"] for f in results["figures"].values()),
            "himsu_more_repeat_requests_and_unplanned_reviews_1m": results["social_care_1m"]["dorset_pattern"],
            "programme_effect_found_within_35pct_1m_treated_together": results["programme_effect_1m"]["treated_within_35pct"],
            "no_effect_found_where_not_live_1m": results["programme_effect_1m"]["untreated_hold_zero"],
        })
    if "250k" in runs and "1m" in runs:
        results["scaling_250k_to_1m"] = round(runs["1m"]["run"]["seconds"] / runs["250k"]["run"]["seconds"], 2)
        targets["scaling_250k_to_1m_within_4_5x"] = results["scaling_250k_to_1m"] <= 4.5
    if "5m" in runs:
        targets["run_5m_within_12gb"] = runs["5m"]["run"]["peak_rss_mb"] <= 12 * 1024
    for name, run in runs.items():
        targets[f"floor_cohort_equal_{name}"] = run["same_cohort"]["equal"]
    results["targets"] = targets
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(results))
    print((RESULTS / "latest.md").read_text())
    if not all(targets.values()):
        raise SystemExit("a benchmark target was missed: see bench-results/latest.md")


def injected_by_generate(printed: str) -> dict[str, int]:
    """What `hiu generate` says it removed in the last 12 months, per neighbourhood (ED attendances
    and emergency admissions of people 65+ added)."""
    line = next((l for l in printed.splitlines() if l.startswith("programme effect")), "")
    removed = {}
    for part in line.split("last 12 months: ", 1)[-1].split("; ") if line else []:
        code, services = part.split(" ", 1)
        removed[code] = sum(int(n.strip().split(" ")[0].replace(",", "")) for n in services.split(", "))
    return removed


def programme_effect(output: Path, injected: dict[str, int]) -> dict:
    """Issue 10's done-when on the 1M drop: population_standardised activity avoided over the last 12
    months (ED attendances and emergency admissions, 65+) within 35% of what was cut where it was
    cut, and an interval holding 0 where the team is not live."""
    import polars as pl

    summary = pl.read_parquet(output / "metrics" / "programme_summary.parquet").filter(
        pl.col("method") == "population_standardised", pl.col("period") == "last_12_months", pl.col("age_group") == "65+",
        pl.col("measure").is_in(["ed_attendances", "emergency_admissions"]), pl.col("neighbourhood_code") != "ALL",
    )
    rows = {}
    for code, part in summary.group_by("neighbourhood_code"):
        avoided = float(part["avoided"].sum())
        half = float((((part["avoided_upper"] - part["avoided_lower"]) / 2) ** 2).sum() ** 0.5)  # ED and admissions
        put = injected.get(code[0], 0)
        rows[code[0]] = {"injected": put, "avoided": round(avoided), "lower": round(avoided - half),
                         "upper": round(avoided + half), "live": part["go_live_date"].is_not_null().any()}
    treated = {c: r for c, r in rows.items() if r["injected"]}
    untreated = {c: r for c, r in rows.items() if not r["live"]}
    put, found = sum(r["injected"] for r in treated.values()), sum(r["avoided"] for r in treated.values())
    return {
        "neighbourhoods": dict(sorted(rows.items())),
        # The treated neighbourhoods together: the target. One neighbourhood's cut (a few hundred
        # events at 10%) is often within its own interval's noise, so each alone is reported too.
        "treated_together": {"injected": put, "avoided": found, "error_pct": round(100 * (found - put) / put, 1) if put else None},
        "treated_within_35pct": bool(treated) and abs(found - put) <= 0.35 * put,
        "treated_each_within_35pct": sum(abs(r["avoided"] - r["injected"]) <= 0.35 * r["injected"] for r in treated.values()),
        "treated": len(treated),
        "untreated_hold_zero": all(r["lower"] <= 0 <= r["upper"] for r in untreated.values()),
    }


def social_care_profile(output: Path) -> dict:
    """Dorset's finding, read back from metrics/social_care_profile (whole area): HIMSU nearly half in
    the social care data, more repeat requests and a higher share of unplanned reviews than the rest
    of the social care population."""
    import polars as pl

    rows = pl.read_parquet(output / "metrics" / "social_care_profile.parquet").filter(
        pl.col("neighbourhood_code") == "ALL").rows_by_key("group", named=True, unique=True)
    himsu, rest = rows["himsu"], rows["rest"]
    return {
        "himsu_in_social_care_pct": round(himsu["people_in_social_care_pct"], 1),
        "repeat_request_pct": {"himsu": round(himsu["repeat_request_pct"], 1), "rest": round(rest["repeat_request_pct"], 1)},
        "unplanned_review_pct": {"himsu": round(himsu["unplanned_review_pct"], 1), "rest": round(rest["unplanned_review_pct"], 1)},
        "dorset_pattern": himsu["repeat_request_pct"] > rest["repeat_request_pct"]
        and himsu["unplanned_review_pct"] > rest["unplanned_review_pct"],
    }


def markdown(results: dict) -> str:
    runs = results["runs"]
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines = [f"# Benchmarks, {results['date']}", "", f"{results['machine']}; {versions}; seed {results['seed']}, "
             f"{results['months']} months.", "",
             "| people | hiu generate s | hiu run s | peak MB | rising risk s | counterfactual + follow-up s | "
             "comparable s | floor s | floor peak MB | ratio | cohorts equal |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for run in runs.values():
        made = run["drop"]["generate"]["seconds"]
        lines.append(
            f"| {run['people']:,} | {made}{' (drop kept, made ' + run['drop'].get('generated_on', 'earlier') + ')' if run['drop']['reused'] else ''} | {run['run']['seconds']} | "
            f"{run['run']['peak_rss_mb']} | {run['rising_risk_seconds']} | {run['counterfactual_followup_seconds']} | "
            f"{run['comparable_seconds']} | {run['floor']['seconds']} | {run['floor']['peak_rss_mb']} | "
            f"{run['ratio_to_floor']} | {'yes' if run['same_cohort']['equal'] else 'NO'} |")
    lines += ["", "Comparable: the run less its rising-risk and counterfactual/follow-up steps (from its Dagster event "
              "log), against the floor (`tests/bench/floor.py`, the same cohort files by hand)."]
    if "scaling_250k_to_1m" in results:
        lines += ["", f"250,000 to 1,000,000 people: {results['scaling_250k_to_1m']} times the run's time."]
    for name, run in runs.items():
        slowest = sorted(run["steps"].items(), key=lambda kv: -kv[1])[:15]
        lines += ["", f"Slowest steps at {run['people']:,} people (seconds, from the event log):", "",
                  "| step | seconds |", "| --- | ---: |"] + [f"| {k} | {v} |" for k, v in slowest]
    if "programme_effect_1m" in results:
        effect = results["programme_effect_1m"]
        lines += ["", "Programme effect at 1,000,000 people (ED attendances and emergency admissions of people 65+, last "
                  "12 months, population_standardised; interval: the two measures' 95% half-widths added in quadrature):",
                  "", "| neighbourhood | live | cut by hiu generate | avoided | interval |", "| --- | --- | ---: | ---: | --- |"]
        lines += [f"| {c} | {'yes' if r['live'] else 'no'} | {r['injected']} | {r['avoided']} | {r['lower']} to {r['upper']} |"
                  for c, r in effect["neighbourhoods"].items()]
        together = effect["treated_together"]
        lines += ["", f"The treated neighbourhoods together: cut {together['injected']}, avoided {together['avoided']} "
                  f"({together['error_pct']:+}%). Each within 35% of its own cut: {effect['treated_each_within_35pct']} "
                  f"of {effect['treated']}."]
        care = results["social_care_1m"]
        lines += ["", f"Social care profile at 1,000,000 people (whole area): HIMSU in the social care data "
                  f"{care['himsu_in_social_care_pct']}%; repeat requests {care['repeat_request_pct']['himsu']}% of HIMSU "
                  f"in social care against {care['repeat_request_pct']['rest']}% of the rest; unplanned reviews "
                  f"{care['unplanned_review_pct']['himsu']}% against {care['unplanned_review_pct']['rest']}%."]
        population = results["population_1m"]
        lines += ["", f"Population on the as-of date: {population['population']:,}; HIMSU people: "
                  f"{population['himsu_people']:,}", "", "| figure | value | band | in band |", "| --- | ---: | --- | --- |"]
        for name, figure in results["figures"].items():
            lines.append(f"| {name} | {figure['value']:.3f} | {figure['band'][0]} to {figure['band'][1]} | "
                         f"{'yes' if figure['in_band'] else 'NO'} |")
    lines += ["", "| target | met |", "| --- | --- |"] + [f"| {k} | {'yes' if v else 'NO'} |" for k, v in results["targets"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
