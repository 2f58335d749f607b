"""Operating SmartPay: Prometheus metrics, health and readiness checks."""
