"""Ingest: how a mention enters Tocsin (decoding and validation, brand matching, the HTTP front
door, file replay) and where a bad one goes (dead letters)."""
