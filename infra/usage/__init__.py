"""`infra usage`: what each group's nodes cost, how busy they are, and whether that is right.

    model.py    what runs and its CPU (the providers fill these in), and the report
    stats.py    pure: average, percentiles and maximum of a CPU series
    verdict.py  pure: idle, saturated or fine against the group's thresholds, and what to do
    collect.py  gathers the nodes and their CPU through the AWS provider, and builds the report
    render.py   the report as text, JSON and Markdown
"""
