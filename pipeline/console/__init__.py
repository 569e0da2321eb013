"""The comms console: a store of what people look at, fed from the topics, and its pages.

``schema`` (numbered migrations), ``store`` (the SQLite store: upserts, search, retention),
``feed`` (the one consumer that reads every partition of the fed topics into the store),
``runtime`` (the worker's store and feed), ``views`` (what the pages show, as plain dicts),
``assets`` (the script, style and uPlot the pages load), ``web`` (the pages on the worker's
port, signed in and protected like the approval pages). See docs/console.md.
"""
