"""Arithmetic both tests share: mixing e-values, anytime-valid confidence, relative change, gaps."""

from __future__ import annotations

import math

import numpy as np

from gate.deploys.judge.spec import Look

BOUND_LEVEL = 0.95  # for the "healthy" bounds (not a rollback decision)
MAX_MISSING_SHARE = 0.1  # of the canary's steps; more and the metric is inconclusive


def log_mix(log_ratios: np.ndarray, log_weights: np.ndarray) -> float:
    """log of the weighted average of exp(log_ratios)."""
    x = log_ratios + log_weights
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


def log_mean_exp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + math.log(float(np.mean(np.exp(x - top))))


def anytime_confidence(log_e: float, multiplicity: float) -> float:
    """1 - the anytime-valid p-value min(1, multiplicity / e): >= 1 - ALPHA when it fires."""
    if log_e <= math.log(multiplicity):
        return 0.0
    return 1.0 - multiplicity * math.exp(-min(log_e, 700.0))


def relative_change(change: float, reference: float) -> float:
    if reference != 0:
        return change / abs(reference)
    return math.inf if change > 0 else (-math.inf if change < 0 else 0.0)


def missing_steps(present: np.ndarray, look: Look) -> int:
    """Completed steps without data, when more than the tolerated share (else 0)."""
    done = present[: look.completed]
    missing = int(done.size - done.sum())
    return missing if missing > math.floor(MAX_MISSING_SHARE * look.completed) else 0
