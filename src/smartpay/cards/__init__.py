"""Cards: validation of card details and payment methods that point at the vault."""
