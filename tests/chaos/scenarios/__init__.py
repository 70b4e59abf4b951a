"""The fault scenarios, one module each, registered in :data:`tests.chaos.registry.SCENARIOS`."""
