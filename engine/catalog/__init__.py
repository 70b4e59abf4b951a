"""Durable data: blob store, literal offloading and the data catalog (later issues)."""
