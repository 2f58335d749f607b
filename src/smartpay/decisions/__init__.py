"""AI consensus decisions: several voters (local models, rules, LLMs) vote on a decision
that matters, a strategy combines the votes, an action runs, and everything is recorded."""
