"""Tocsin's streaming pipeline: the Faust app, its settings, records, topics and CLI."""
