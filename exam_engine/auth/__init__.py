"""Accounts, roles, tokens and the checks every route and socket event makes."""
