"""The card vault: the one home of card numbers, encrypted at rest under envelope keys,
and the short-lived store of CVCs awaiting their first authorization."""
