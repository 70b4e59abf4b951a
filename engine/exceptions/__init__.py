"""Exceptions user code may raise, at flytekit's module paths."""
