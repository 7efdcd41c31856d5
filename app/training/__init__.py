"""Corpus, EQ datasets, training and evaluation of the recognition models."""
