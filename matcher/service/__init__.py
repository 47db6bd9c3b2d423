"""The use cases the CLI, the API and the web pages call, their configuration, and the one bootstrap
that wires store, embedder, matching state and repositories.
"""
