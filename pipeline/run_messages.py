"""A run's failures and warnings in words, from its Dagster events: what `hiu run` prints and the
failure notice in status/ says."""

from __future__ import annotations

import re

import dagster as dg


# Errors the pipeline raises itself, with words written for people (file names, rules, dates,
# counts). Any other exception's text (from a library) could quote a value from the data, so a
# notice left in the output folder names only its kind and points to the run's log.
OWN_ERRORS = {"ExtractFileError", "BaselineError", "RunInProgress", "TooFewOutcomes", "NotEnoughPractices"}


def _root(error):
    cause = error
    while cause.cause is not None:  # Dagster wraps user errors; the root names the file or rule
        cause = cause.cause
    return cause


def _root_message(error, own_words_only: bool = False) -> str:
    cause = _root(error)
    if own_words_only and cause.cls_name not in OWN_ERRORS:
        return f"{cause.cls_name} (its message is in the run's log)"
    message = cause.message.strip()
    # "pipeline.extract_files.ExtractFileError: <what is wrong>": the words are for people.
    return re.sub(rf"^([\w.]+\.)?{re.escape(cause.cls_name)}: ", "", message)


def _check_message(evaluation) -> str:
    message = evaluation.metadata.get("message")
    if message is not None:
        return str(getattr(message, "value", message))
    return "; ".join(f"{k}: {getattr(v, 'value', v)}" for k, v in evaluation.metadata.items())


def failures_and_warnings(events, own_words_only: bool = False) -> tuple[list[str], list[str]]:
    """A run's failures (failed steps, resources and blocking checks) and warnings (checks that
    warn), in words, from its Dagster events: for `hiu run` and for the failure notice alike
    (`own_words_only`: for a file others read, only the pipeline's own messages in full)."""
    failures, warnings = [], []
    for event in events:
        data = event.event_specific_data
        if event.event_type_value == dg.DagsterEventType.ASSET_CHECK_EVALUATION.value:
            if not data.passed:
                text = f"check {data.asset_key.to_user_string()}.{data.check_name}: {_check_message(data)}"
                (warnings if data.severity == dg.AssetCheckSeverity.WARN else failures).append(text)
            continue
        error = getattr(data, "error", None)
        if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
            continue  # the check's own evaluation says what failed and why
        if event.event_type_value in ("STEP_FAILURE", "RESOURCE_INIT_FAILURE") and error:
            message = _root_message(error, own_words_only)
            failures.append(f"{event.step_key}: {message}" if event.step_key else message)
    return failures, warnings
