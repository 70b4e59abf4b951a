"""The fault suite: scenarios that break Flyray on purpose (workers, nodes, executors,
the database, the blob store, the scheduler, the clock, the whole cluster) and one
checker, :func:`tests.chaos.invariants.check_nothing_lost`, run after every one.

``tests/chaos/test_scenarios.py`` runs each scenario's smoke variant in CI;
``python -m benchmarks.chaos`` runs the full variants and writes ``chaos_report.json``.
"""
