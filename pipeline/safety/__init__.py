"""The safety queue: the pharmacovigilance cases for the ``safety`` role, on the worker's port.

``views`` turns the ``cases`` table's values into what the pages show (the queue in order, the
clock in words, a case's detail), pure and tested without a worker; ``web`` serves ``/safety``
with the approval pages' sign-in, roles, CSRF tokens and audited refusals, and writes every
view of a case and every action to the audit log. The only page where a case's mention text is
shown.
"""
