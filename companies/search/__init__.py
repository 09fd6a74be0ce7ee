"""Semantic search over companies: the model, the vector store, indexing and queries.

Views, the API, admin, signals, tasks and commands call into this package; it never imports them.
"""
