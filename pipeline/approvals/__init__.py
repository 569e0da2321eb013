"""Rapid-response approvals.

The domain core (``config``, ``drafts``, ``events``, ``draft_state``, ``state``, ``policy``,
``users``, ``tokens``, ``audit``, ``sla``, ``slack_verify``) is pure: no Kafka, no I/O at import.
Its stream schemas are in ``pipeline/records.py``; ``flow``, ``runtime``, ``session``, ``web``,
``slack``, ``publish`` and ``audit_export`` wire it to Faust, the approval pages (the ``web``
package), Slack and the ``tocsin audit`` command.

Interface summary (for the Faust wiring, web pages and Slack endpoint built on top):

* ``config.load_approvals(settings, today=...) -> ApprovalConfig(library, policy, users, brands,
  signer)``: reads TOCSIN_RESPONSES_FILE, TOCSIN_APPROVAL_POLICY_FILE, TOCSIN_USERS_FILE,
  TOCSIN_USER_TOKENS, TOCSIN_APPROVAL_LINK_SECRET; raises ``pipeline.errors.ConfigError``.
* ``drafts.propose(alert, library, brands=..., today=..., link=settings.response_info_url)
  -> list[Draft]`` (best first; deterministic ``Draft.id`` from alert dedup key + template id).
  ``Draft.to_dict/from_dict``; ``draft.text_hash``; ``draft.needs_review`` (an edited reviewed
  template); ``draft.template_reference`` (the pre-approval's review reference, for the page).
* ``state`` (defined in ``events``, ``draft_state`` and ``state``, all importable from ``state``):
  ``Actor.of(user, "web"|"slack"|"api", remote_addr)`` / ``Actor.system()``; events
  ``DraftCreated(draft)``, ``Edited(text, version)``, ``Approved(version, text_hash, role=None,
  link=None)``, ``Rejected(version, comment, link=None)``, ``ChangesRequested(version, comment,
  link=None)``, ``Escalated(role, deputies)``, ``Published(text_hash, target)``;
  ``event_to_dict/event_from_dict`` (with ``type``) for the decisions topic.
  ``decide(state | None, event, actor, policy, now) -> (DraftState, [AuditEntry])`` or raises
  ``DecisionRefused`` whose ``.entry`` is the refusal's AuditEntry (append it to the audit topic).
  ``DraftState.to_dict()/from_dict()`` is what the changelog table stores (key: draft id).
  Queries: ``is_satisfied(state)``, ``fillable_roles(state, actor)`` (what buttons to show),
  ``state.missing_roles()``, ``state.deadline(role)``, ``state.status`` in STATUSES.
  Pass as ``now`` the time stamped on the decision record at the edge: replays are deterministic.
* ``users.UserDirectory``: ``authenticate(token) -> User`` (constant time), ``by_slack(id)``,
  ``get(id)``, ``with_role(role)``; all raise ``AuthRefused``.
* ``tokens.LinkSigner(secret)``: ``issue(user_id=, draft_id=, action=, now=, ttl_s=) -> str``,
  ``verify(token, now=) -> LinkClaims`` (LinkRefused: link_malformed/link_forged/link_expired);
  put the claims in the event's ``link`` and ``decide`` enforces binding + single use
  (link_mismatch/link_expired/link_replayed); a refused decision does not spend the link.
  ``csrf_token(session_id=, draft_id=)`` and
  ``check_csrf(token, session_id=, draft_id=)`` (CsrfRefused).
* ``slack_verify.verify(secret, body=raw_bytes, timestamp=, signature=, now=unix_seconds)`` or
  ``verify_headers(secret, body=, headers=, now=)``: SignatureRefused
  (signature_missing/stale_timestamp/bad_signature). ``sign(...)`` builds one for tests.
* ``audit``: ``AuditEntry`` (``to_dict/from_dict``), ``Origin``, ``refusal_entry(err, at=,
  actor=, action=, draft_id=, origin=)`` for refusals at the edge (signature, CSRF, link, auth),
  ``export(entries, out, fmt="csv"|"json", since=)``.
* ``sla.escalations_due(states, now, policy, users) -> [(draft_id, Escalated)]`` (apply with
  ``decide(..., Actor.system(), ...)``), ``sla.breaches(states, now)`` for the metric,
  ``sla.next_deadline(states)``.

Every refusal is an ``errors.ApprovalRefused`` with a fixed ``reason`` code; see ``errors.py``.
"""
