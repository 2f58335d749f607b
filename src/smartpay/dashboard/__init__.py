"""The merchant dashboard: login, an overview of the business in charts, payments."""
