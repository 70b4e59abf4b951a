"""flytekit's ``flytekit.models.core``: the core types of the literal model."""
