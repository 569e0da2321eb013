"""The topic list matches what the app declares, so `tocsin topics create` leaves nothing to Faust."""

from __future__ import annotations

from pipeline import tables, topology
from pipeline.app import app


def test_every_table_has_a_changelog_spec_with_its_partitions() -> None:
    assert tables.approvals is not None  # importing the module registers every table
    declared = {name: table for name, table in app.tables.items()}
    specs = {spec.name: spec for spec in topology.CHANGELOG_TOPICS}
    assert set(specs) == {topology.changelog_name(name) for name in declared}
    for name, table in declared.items():
        spec = specs[topology.changelog_name(name)]
        assert table.changelog_topic.get_topic_name() == spec.name
        want = table.partitions or topology.DEFAULT_PARTITIONS
        assert spec.partitions == want, name
        assert spec.config == {"cleanup.policy": "compact"}


def test_topic_names_are_unique_across_streams_and_changelogs() -> None:
    names = [s.name for s in topology.ALL_TOPICS + topology.CHANGELOG_TOPICS]
    assert len(names) == len(set(names))


def test_every_table_is_erasable_or_kept_on_purpose() -> None:
    """A new table must say whether ``tocsin privacy erase`` rewrites it (topology.py)."""
    assert tables.ERASABLE  # built from topology.ERASABLE_TABLES: every name is a real table
    declared = set(app.tables)
    listed = {*topology.ERASABLE_TABLES, *topology.KEPT_TABLES, *topology.UNPERSONAL_TABLES}
    assert declared == listed
