"""Single queries: candidates, scores and rules become a ranked list of suggestions, each explained."""
