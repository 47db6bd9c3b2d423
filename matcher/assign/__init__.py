"""A whole pool at once: blockwise cross-border top-k, global pairing within capacities, and two-sided assignment."""
