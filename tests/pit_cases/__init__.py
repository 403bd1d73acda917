"""Shared point-in-time cases and the brute-force reference (parity across macro, retrieval, online)."""
