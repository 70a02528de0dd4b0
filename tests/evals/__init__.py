"""Tests of the evaluation suite (evals/)."""
