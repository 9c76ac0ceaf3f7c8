"""Monitoring artifacts of the Seer chart, generated from code.

- :mod:`seer.platform.monitoring.dashboard`: the Grafana dashboard
  (``charts/seer/files/dashboards/seer-training.json``).
- :mod:`seer.platform.monitoring.chart_values`: the chart README's values table, from the
  ``# --`` comments of ``charts/seer/values.yaml``.

The alert rules are not generated: ``charts/seer/files/alerts.yaml`` is their single,
hand-written source, read both by the chart and by ``promtool`` in the tests.

Nothing here imports the trainer or the operator (``seer.platform`` depends on neither);
the tests check that every series a query names is defined by one of them.
"""
