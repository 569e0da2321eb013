"""Faust agents, one module per agent, found by the app's autodiscovery."""
