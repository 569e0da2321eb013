"""On-call logic between "an alert step exists" and "a person is notified".

The rule modules are pure functions free of Faust, Kafka and wall clocks (callers pass ``now`` in,
so the same code runs in the worker and in unit tests with a fixed clock); ``dispatch`` applies
them to each alert step against the worker's tables, and ``api`` serves them over HTTP.

* ``routing``     the route tree (routing.yaml): which receivers get which alerts;
* ``matchers``    label matchers shared by routes, inhibition rules and silences;
* ``silences``    Alertmanager-style silences (matchers + start/end), as the API accepts them;
* ``inhibition``  a firing alert mutes others (a critical one mutes warnings of the same brand/topic);
* ``grouping``    Alertmanager's group_wait / group_interval / repeat_interval timers;
* ``escalation``  who is paged next when a firing alert is not acknowledged in time;
* ``acks``        acknowledgements from Slack buttons and PagerDuty webhooks, signatures verified;
* ``dispatch``    the dispatch plan: route, inhibit, time mute, silence, group, deliver;
* ``api``         the HTTP API for silences and acknowledgements.
"""
