"""Reports: a merchant's volume, approvals, declines, refunds, costs, routing, latency,
fraud and AI decisions for a period, over the API (/v1/reports/...), the CLI
(`smartpay report`) and the dashboard."""
