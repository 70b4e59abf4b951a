"""The driver of a remote execution: the Ray actor, the driving loop, its hooks and
event writer, and the loading of registered code."""
