"""Shared machinery of the tracking and stock reports: item slices, pegging, projections, exports."""
