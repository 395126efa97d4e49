"""Online model quality: metrics from predictions joined with their delayed outcomes.

Everything is vectorised numpy; scikit-learn is not needed (the tests check every metric against
it). Outcomes that are missing (NaN or None) are dropped before computing and counted under
`dropped`. A metric the window cannot support (ROC AUC with one class, log loss without scores,
precision when nothing was predicted positive) is None rather than an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from steadyml.core.errors import InvalidInputError

BusinessMetric = Callable[[np.ndarray, np.ndarray], float]

_CLIP = 1e-15  # probabilities are clipped to [1e-15, 1 - 1e-15] before taking logs


def classification_metrics(y_true: Any, y_pred: Any = None, y_score: Any = None, *,
                           positive: Any = None,
                           labels: Sequence[Any] | None = None) -> dict[str, float | None]:
    """Return accuracy, precision, recall, ROC AUC and log loss of classifier predictions.

    With two classes, precision and recall are those of `positive` (default: 1 or True when the
    labels are 0/1 or booleans, otherwise the larger label). With more classes they are macro
    averages over the classes, leaving out a class whose value is undefined (never predicted for
    precision, never observed for recall), like scikit-learn with `zero_division=np.nan`.

    Args:
        y_true: observed outcomes (ints, floats, strings or booleans); NaN/None rows are dropped.
        y_pred: predicted labels, or None to skip accuracy, precision and recall.
        y_score: predicted probabilities, or None to skip ROC AUC and log loss: for two classes
            the 1-D probability of `positive` (or a 2-D matrix), for more a 2-D matrix with one
            column per class in `labels` order.
        labels: the model's classes in the column order of `y_score`; default: the sorted labels
            seen in `y_true`, `y_pred` and `positive`. ROC AUC is computed for two classes only.

    Returns:
        `n` (rows used), `dropped` (rows without an outcome), `accuracy`, `precision`, `recall`,
        `roc_auc` and `log_loss`.
    """
    if y_pred is None and y_score is None:
        raise InvalidInputError("classification_metrics needs predictions: pass y_pred (labels), "
                                "y_score (probabilities) or both.")
    truth = _vector(y_true, "y_true")
    pred = None if y_pred is None else _vector(y_pred, "y_pred", rows=len(truth))
    score = None if y_score is None else _scores(y_score, rows=len(truth))
    if pred is not None and (missing := _missing(pred)).any():
        raise InvalidInputError(f"y_pred has {int(missing.sum())} missing predictions (first at "
                                f"row {int(np.argmax(missing))}); every row needs a prediction.")
    keep = ~_missing(truth)
    truth, pred, score = truth[keep], _rows(pred, keep), _rows(score, keep)
    result: dict[str, float | None] = {
        "n": int(keep.sum()), "dropped": int((~keep).sum()), "accuracy": None,
        "precision": None, "recall": None, "roc_auc": None, "log_loss": None,
    }
    if not len(truth):
        return result

    classes, positive = _classes(truth, pred, positive, labels)
    if score is not None and score.ndim == 1 and len(classes) > 2:
        raise InvalidInputError(f"A 1-D y_score is the probability of the positive class, but "
                                f"there are {len(classes)} classes ({_show(classes)}); pass a 2-D "
                                "matrix with one column per class.")
    t = _codes(truth, classes, "y_true")
    p = None if pred is None else _codes(pred, classes, "y_pred")
    pos = None if positive is None else int(_codes(np.asarray([positive]), classes, "positive")[0])

    if p is not None:
        result["accuracy"] = float(np.mean(t == p))
        if len(classes) <= 2:
            if pos is not None:
                result["precision"], result["recall"] = _binary_precision_recall(t, p, pos)
        else:
            result["precision"], result["recall"] = _macro_precision_recall(t, p, len(classes))
    if score is not None:
        result["roc_auc"], result["log_loss"] = _score_metrics(t, score, len(classes), pos)
    return result


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float | None]:
    """Return the mean absolute error and root mean squared error of regression predictions.

    Returns `n`, `dropped` (rows whose outcome is NaN or None), `mae` and `rmse` (None when no
    row has an outcome).
    """
    truth = _floats(_vector(y_true, "y_true"), "y_true")
    pred = _floats(_vector(y_pred, "y_pred", rows=len(truth)), "y_pred")
    if (bad := ~np.isfinite(pred)).any():
        raise InvalidInputError(f"y_pred has {int(bad.sum())} non-finite predictions (first at "
                                f"row {int(np.argmax(bad))}: {pred[bad][0]}); every row needs a "
                                "finite prediction.")
    keep = ~np.isnan(truth)
    error = pred[keep] - truth[keep]
    empty = not len(error)
    return {
        "n": int(keep.sum()), "dropped": int((~keep).sum()),
        "mae": None if empty else float(np.mean(np.abs(error))),
        "rmse": None if empty else float(np.sqrt(np.mean(error * error))),
    }


def load_business_metric(spec: str) -> BusinessMetric:
    """Import the business metric named by `spec`, written "package.module:function".

    The function is called as `fn(predictions, outcomes)` with two numpy arrays and returns a
    float. The attribute may be dotted ("module:Class.method").
    """
    module_name, sep, attribute = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep or not module_name or not attribute or ":" in attribute:
        raise InvalidInputError(f"Business metric {spec!r} is not of the form 'module:function' "
                                "(e.g. 'mycompany.metrics:expected_profit').")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):
            raise InvalidInputError(f"Business metric {spec!r}: module {module_name!r} cannot be "
                                    "found. Check the name and that it is installed or on "
                                    "PYTHONPATH.") from exc
        raise InvalidInputError(f"Business metric {spec!r}: module {module_name!r} needs "
                                f"{exc.name!r}, which is not installed.") from exc
    except Exception as exc:  # the module itself fails at import
        raise InvalidInputError(f"Business metric {spec!r}: importing {module_name!r} failed: "
                                f"{type(exc).__name__}: {exc}.") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise InvalidInputError(f"Business metric {spec!r}: {module_name!r} has no "
                                    f"attribute {attribute!r}. Check the function name.") from exc
    if not callable(target):
        raise InvalidInputError(f"Business metric {spec!r} is a {type(target).__name__}, not a "
                                "function. Point it at a function (predictions, outcomes) -> "
                                "float.")
    return target


def business_metric(fn: BusinessMetric, predictions: Any, outcomes: Any) -> float | None:
    """Return `fn(predictions, outcomes)` over the rows that have an outcome.

    Returns None when no row has an outcome or the function returns None. Any exception the
    function raises, or a result that is not a number, becomes an InvalidInputError naming it.
    """
    truth = _vector(outcomes, "outcomes")
    pred = _vector(predictions, "predictions", rows=len(truth))
    keep = ~_missing(truth)
    if not keep.any():
        return None
    name = _name(fn)
    try:
        value = fn(pred[keep], truth[keep])
    except Exception as exc:
        raise InvalidInputError(f"Business metric {name} failed on {int(keep.sum())} rows: "
                                f"{type(exc).__name__}: {exc}. Fix the function or its "
                                "inputs.") from exc
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Business metric {name} returned {value!r} "
                                f"({type(value).__name__}); it must return a number.") from exc


# -- inputs -----------------------------------------------------------------------------------


def _vector(values: Any, what: str, *, rows: int | None = None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError(f"{what} must be one-dimensional; got shape {array.shape}.")
    _check_rows(array, what, rows)
    return array


def _check_rows(array: np.ndarray, what: str, rows: int | None) -> None:
    if rows is None and not len(array):
        raise InvalidInputError(f"{what} is empty; pass at least one row.")
    if rows is not None and len(array) != rows:
        raise InvalidInputError(f"{what} has {len(array)} rows but the outcomes have {rows}; "
                                "join predictions and outcomes row by row first.")


def _scores(values: Any, *, rows: int) -> np.ndarray:
    try:
        score = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"y_score must hold probabilities (numbers): {exc}.") from exc
    if score.ndim not in (1, 2):
        raise InvalidInputError(f"y_score must be 1-D (probability of the positive class) or 2-D "
                                f"(one column per class); got shape {score.shape}.")
    _check_rows(score, "y_score", rows)
    if not np.isfinite(score).all():
        raise InvalidInputError("y_score holds NaN or infinite values; every row needs "
                                "probabilities.")
    if score.size and (score.min() < 0 or score.max() > 1):
        raise InvalidInputError(f"y_score must hold probabilities in [0, 1]; found values from "
                                f"{score.min()} to {score.max()}.")
    return score


def _floats(array: np.ndarray, what: str) -> np.ndarray:
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must hold numbers for regression metrics: "
                                f"{exc}.") from exc


def _missing(array: np.ndarray) -> np.ndarray:
    """Return a mask of NaN / None entries."""
    if array.dtype.kind in "fc":
        return np.isnan(array)
    if array.dtype.kind == "O":
        return np.equal(array, None) | (array != array)  # NaN is the one value unequal to itself
    return np.zeros(len(array), dtype=bool)


def _rows(array: np.ndarray | None, keep: np.ndarray) -> np.ndarray | None:
    return None if array is None else array[keep]


def _show(classes: np.ndarray) -> str:
    shown = ", ".join(repr(c.item() if isinstance(c, np.generic) else c) for c in classes[:10])
    return shown + (", …" if len(classes) > 10 else "")


def _name(fn: Any) -> str:
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}:{qualname}" if module else qualname


# -- labels -----------------------------------------------------------------------------------


def _classes(truth: np.ndarray, pred: np.ndarray | None, positive: Any,
             labels: Sequence[Any] | None) -> tuple[np.ndarray, Any]:
    """Return the classes in column order and the positive label (None when unknown)."""
    given = {"y_true": truth, "y_pred": pred, "labels": labels, "positive": positive}
    kinds = {name: _label_kind(np.asarray(value if name != "positive" else [value]))
             for name, value in given.items() if value is not None}
    if len(set(kinds.values()) - {"object"}) > 1:
        shown = ", ".join(f"{name} holds {kind}s" for name, kind in kinds.items())
        raise InvalidInputError(f"Labels must all be of one type, but numbers and strings are "
                                f"mixed ({shown}); convert them to one type first.")
    try:
        if labels is not None:
            classes = np.asarray(labels)
            if classes.ndim != 1 or not len(classes) or len(np.unique(classes)) != len(classes):
                raise InvalidInputError(f"labels must be a non-empty list of distinct labels; "
                                        f"got {labels!r}.")
        else:
            seen = truth if pred is None else np.concatenate([truth, pred])
            classes = np.unique(seen)
            if positive is None and classes.dtype.kind in "biuf" and np.isin(classes, [0, 1]).all():
                positive = classes.dtype.type(1)  # 0/1 and False/True labels: 1/True is positive
            if positive is not None:
                classes = np.unique(np.concatenate([classes, np.asarray([positive])]))
    except TypeError as exc:  # mixed label types cannot be sorted or concatenated
        raise InvalidInputError(f"Labels must all be of one type (ints, floats, strings or "
                                f"booleans): {exc}.") from exc
    if positive is None and len(classes) == 2:
        positive = classes[np.argsort(classes)[-1]]
    if positive is not None and len(classes) > 2:
        raise InvalidInputError(f"positive={positive!r} applies to two classes, but there are "
                                f"{len(classes)} ({_show(classes)}); leave it out for macro "
                                "averages.")
    return classes, positive


def _label_kind(array: np.ndarray) -> str:
    kind = array.dtype.kind
    return "number" if kind in "biuf" else "string" if kind in "US" else "object"


def _codes(values: np.ndarray, classes: np.ndarray, what: str) -> np.ndarray:
    """Return the index of each value in `classes`."""
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    try:
        at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
        known = np.asarray(ordered[at] == values, dtype=bool)
    except TypeError as exc:
        raise InvalidInputError(f"{what} holds labels of another type than the classes "
                                f"({_show(classes)}): {exc}.") from exc
    if not known.all():
        unknown = values[~known]
        raise InvalidInputError(f"{what} holds label {unknown[0]!r}, which is not one of the "
                                f"classes ({_show(classes)}).")
    return order[at]


# -- metrics ----------------------------------------------------------------------------------


def _binary_precision_recall(t: np.ndarray, p: np.ndarray,
                             pos: int) -> tuple[float | None, float | None]:
    hits = int(np.count_nonzero((t == pos) & (p == pos)))
    predicted, actual = int(np.count_nonzero(p == pos)), int(np.count_nonzero(t == pos))
    return (hits / predicted if predicted else None), (hits / actual if actual else None)


def _macro_precision_recall(t: np.ndarray, p: np.ndarray,
                            k: int) -> tuple[float | None, float | None]:
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    hits = np.diag(confusion)

    def macro(totals: np.ndarray) -> float | None:
        defined = totals > 0
        return float(np.mean(hits[defined] / totals[defined])) if defined.any() else None

    return macro(confusion.sum(axis=0)), macro(confusion.sum(axis=1))


def _score_metrics(t: np.ndarray, score: np.ndarray, k: int,
                   pos: int | None) -> tuple[float | None, float | None]:
    """Return ROC AUC and log loss; None for what the classes and score shape cannot support."""
    if score.ndim == 2:
        if score.shape[1] != k:  # columns cannot be matched to classes
            return None, None
        loss = -float(np.mean(np.log(np.clip(score[np.arange(len(t)), t], _CLIP, 1 - _CLIP))))
        if k != 2 or pos is None:
            return None, loss
        return _roc_auc(t == pos, score[:, pos]), loss
    if pos is None:
        return None, None
    is_pos = t == pos
    clipped = np.clip(score, _CLIP, 1 - _CLIP)
    loss = -float(np.mean(np.where(is_pos, np.log(clipped), np.log(1 - clipped))))
    return _roc_auc(is_pos, score), loss


def _roc_auc(is_pos: np.ndarray, score: np.ndarray) -> float | None:
    """Return the area under the ROC curve by the Mann–Whitney U statistic."""
    n_pos = int(np.count_nonzero(is_pos))
    n_neg = len(is_pos) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = float(_average_ranks(score)[is_pos].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Return 1-based ranks, ties sharing their average rank (scipy's rankdata 'average')."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.concatenate([starts[1:], [len(values)]])  # exclusive
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2)[group]
    return ranks
