"""The domain: profiles and their works, countries and their groups, and the errors the core raises."""
