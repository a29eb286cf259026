"""``python -m mux.loadtest``: a load tester for protocol routing, and backends that say who answered.

``backends`` (identifying gRPC, HTTP/1.1 and TCP echo servers), ``clients`` (one per kind of traffic),
``run`` (workers for a bounded time, misroutes counted), ``report`` (text, JSON, PNG).
"""
