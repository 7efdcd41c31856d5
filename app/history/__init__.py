"""Stored ratings: each student's history."""
