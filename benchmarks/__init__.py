"""Benchmarks, run by ``make bench`` (``python -m benchmarks``); one ``<name>_bench.py`` module per subject.

Each module has ``main(argv) -> int`` and its own entry point (``python -m benchmarks.mux_bench``), prints
a table and writes its results as JSON to ``benchmarks/results/<name>.json`` (git-ignored).
"""
