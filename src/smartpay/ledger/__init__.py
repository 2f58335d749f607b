"""The double-entry, append-only ledger: accounts per merchant and currency, balanced
journal entries for holds, captures, refunds and settlements, the balance and balance
transactions derived from them, and a verifier. See service.py for the entries."""
