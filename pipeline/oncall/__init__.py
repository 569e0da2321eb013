"""On-call logic between "an alert step exists" and "a person is notified", as pure functions.

Each module is free of Faust, Kafka and wall clocks: callers pass ``now`` in, so the same code
runs in the worker and in unit tests with a fixed clock.

* ``silences``    Alertmanager-style silences (matchers + start/end), as the API accepts them;
* ``inhibition``  a firing alert mutes others (a critical one mutes warnings of the same brand/topic);
* ``grouping``    Alertmanager's group_wait / group_interval / repeat_interval timers;
* ``escalation``  who is paged next when a firing alert is not acknowledged in time;
* ``acks``        acknowledgements from Slack buttons and PagerDuty webhooks, signatures verified.
"""
