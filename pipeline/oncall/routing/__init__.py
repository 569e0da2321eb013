"""Routing as data: a YAML tree of matchers that sends each alert to receivers, like Alertmanager.

Every alert enters the root route. Its child routes are tried in order; an alert that matches a
child descends into it, and stops there unless that child says ``continue: true``, in which case
the next siblings are tried as well. A route none of whose children matched is a result itself.
Receivers, ``group_by`` and the three timers are inherited from the parent when a route does not
set them, with Alertmanager's meaning:

* ``group_by``: labels whose values make one notification group (``[...]`` groups by every label);
* ``group_wait``: how long a new group waits for more alerts before its first notification;
* ``group_interval``: how long to wait before notifying about alerts added to a notified group;
* ``repeat_interval``: how long before re-sending a notification that has not changed.

The labels an alert is matched on are ``brand``, ``topic``, ``severity``, ``state`` and, when the
detector records them in ``Alert.why``, ``language`` and ``author_kind``. Matchers are exact
(``match: {severity: critical}``, a list meaning any of) or regular expressions anchored at both
ends (``match_re: {topic: "scandal|boycott"}``). The file is validated on load; a mistake raises
:class:`~pipeline.errors.ConfigError` naming the file, line and field.

Time of day (``pipeline/oncall/time_intervals.py``): top-level ``time_intervals`` names intervals
(``business_hours``: 09:00-18:00 Monday to Friday in Europe/Paris); a route lists some under
``mute_time_intervals`` (its notifications are muted inside any of them) and/or
``active_time_intervals`` (muted outside all of them; mute wins when both apply). Exactly as in
Alertmanager, these never change matching: an alert still ends on a muted route (and so does not
fall through to its siblings or the parent); only that route's notifications are muted, decided at
the moment of sending (:meth:`Route.muted_at`). Also as in Alertmanager, the two lists are not
inherited by child routes and the root route takes neither. A receiver named by several routes an
alert ends on is muted only when every one of those routes is (Alertmanager would send through the
unmuted one). What muting does to delivery is ``pipeline/oncall/dispatch.py``'s business: muted
firing and escalated steps leave a ``muted`` receipt; acknowledged and resolved steps always go out.

Receivers: routes name receivers. The ``TOCSIN_*`` settings build one default receiver per type,
named after it (``slack``, ``pagerduty``, ``email`` ...); the file's top-level ``receivers:``
declares named ones (``- name: comms-fr`` with ``slack_configs: [...]``, secrets by ``_env`` or
``_file`` reference), read by ``pipeline/delivery/receivers/named.py``. This package only lets
the key through; names are checked against the receivers actually built.

The package: ``nodes.py`` reads YAML nodes with located errors, ``sections.py`` the time
intervals, inhibit rules and escalation policies, ``parse.py`` the route tree and the document;
the tree itself (routes, grouping, matching an alert) is ``pipeline/oncall/routes.py``.
"""

from __future__ import annotations

from pipeline.oncall.routes import ALL_LABELS, LABELS, Grouping, Route, RoutingTree, alert_labels
from pipeline.oncall.routing.parse import load_routing, parse_routing

__all__ = [
    "ALL_LABELS",
    "LABELS",
    "Grouping",
    "Route",
    "RoutingTree",
    "alert_labels",
    "load_routing",
    "parse_routing",
]
