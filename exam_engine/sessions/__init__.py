"""Attempts (exam sessions): statuses, timing, responses, the hash-chained log, sockets and the sweeper."""
