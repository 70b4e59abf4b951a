"""flytekit's literal model (``flytekit.models``): literal types and literal values as plain data.

A user :class:`~engine.extend.TypeTransformer` written the flytekit way describes its type
with :class:`engine.models.types.LiteralType` and its values with
:class:`engine.models.literals.Literal`; :mod:`engine.types.model_bridge` maps both onto the
engine's own literal types and JSON forms. These modules import nothing of the engine.
"""
