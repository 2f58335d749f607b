"""ACH: the NACHA file layer (``smartpay.ach.nacha``) and its CLI (``smartpay.ach.cli``)."""
