"""Proctoring: signals from the browser and the server, policy rules and flags, review, reports, collusion screening."""
