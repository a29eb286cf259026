"""``python -m mux``: the mux as a standalone gateway in front of any TCP or Unix backends.

``config`` reads and checks the YAML (or the flags), ``build`` turns it into the mux's routers,
``accesslog`` writes one JSON line per connection, ``admin`` serves ``/metrics`` and ``/health``, and
``app`` runs it all: listeners, SIGHUP reload that keeps established connections (and the old config,
when the new one has an error), SIGTERM drain.
"""
