"""The control plane (Flyte's FlyteAdmin on Ray): the admin API and its persistence.

``serve.app.create_app(settings)`` builds the FastAPI app (no Ray); ``serve.deployment``
binds it to Ray Serve; ``serve.store.AdminStore`` is the persistence it runs on.
"""
