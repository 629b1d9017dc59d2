"""The INT lead's report: one self-contained `report.html` per neighbourhood and an `index.html`
at the output root, built from the run's own files (so every number in them is a number in a file
beside them), with Jinja2 templates and matplotlib charts inlined as SVG. No Dagster here."""
