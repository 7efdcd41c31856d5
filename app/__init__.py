"""Mastering Trainer: rates a trainee's master against the professional one in EQ terms."""

__version__ = "0.1.0"
