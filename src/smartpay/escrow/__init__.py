"""Escrow: captured funds held until a date, a completion confirmation, both, or a
manual release; disputes freeze them and resolve by refund or release."""
