"""Live sources: Tocsin reads the open social web itself (Bluesky's Jetstream, Mastodon's streaming
API, RSS and Atom feeds, Reddit's search, X's filtered stream) and produces the mentions that name
a tracked brand to ``mentions.raw``.

One module per kind behind one small base (:mod:`pipeline.sources.base`: connect, read, checkpoint,
close); the sources file (``TOCSIN_SOURCES_FILE``) says which to run (:mod:`.config`); the runner
(:mod:`.runner`) maps each event to the ``mentions.raw`` contract, matches brands, dead-letters
what cannot be used, reconnects with backoff and keeps checkpoints (:mod:`.checkpoints`).
"""
