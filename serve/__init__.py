"""The control plane: a Ray Serve application with the admin API (later issues)."""
