"""How a bundle is judged: metrics with intervals, robustness, corpus profile, leave-one-out, reports."""
