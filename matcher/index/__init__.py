"""The matching state: rows in columns (segments), the lexical model, candidate search (`VectorIndex`),
snapshots beside the store, and the state that keeps up with writes.
"""
