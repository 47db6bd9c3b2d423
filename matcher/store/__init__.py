"""Where profiles live: the store interface, its SQLite implementation (profiles, change log, embedding
cache), and the small repositories of API keys, the audit trail and batch jobs.
"""
