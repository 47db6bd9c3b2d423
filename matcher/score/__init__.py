"""Scoring candidates: relevance from per-work similarities, the query as prepared, the hard rules
(countries, conflicts of interest) and the diversity re-rank.
"""
