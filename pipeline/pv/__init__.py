"""Pharmacovigilance intake: per-mention case triage.

``triage`` assesses a mention for the four minimum criteria of a valid individual case safety
report (identifiable reporter, identifiable patient, suspect product, suspect reaction) and for
seriousness. It is rule-based: lexicons (``data/``) and cue patterns (``cues``), with negation
and hypothetical wording handled, so a safety team can read why a case was or was not valid.
"""
