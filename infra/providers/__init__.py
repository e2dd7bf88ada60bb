"""Providers: one module per outside system, each behind the small interface in base.py."""
