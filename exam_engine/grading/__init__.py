"""Grading after delivery: the essay marking queue, rescoring, item analysis, IRT calibration."""
