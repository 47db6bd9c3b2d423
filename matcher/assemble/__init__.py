"""Consortia for a call: aspects, the team problem, the greedy solver and the exact one."""
