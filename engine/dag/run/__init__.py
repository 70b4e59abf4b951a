"""Everything that runs a compiled workflow on Ray: the executor, the worker side, and
the runners of map, dynamic, child and reference nodes. The only package of the SDK
that imports Ray (with ``engine.cli``)."""
