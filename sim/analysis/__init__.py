"""Analyses above the model: they run and read replications, the model never imports them.

- `comparison`: paired replications of scenarios, differences with intervals, break-even;
- `attribution`: what drives a difference, the Shapley split over levers and other parts;
- `budget`: the budget view of yearly tables (budgets, grant, safety net, balance, discounting,
  break-even year);
- `summary`: mean and band over replications;
- `sensitivity`: one-at-a-time, Latin-hypercube and Sobol' sensitivity of the headline;
- `report`: the self-contained HTML report and the workbook of a comparison folder;
- `plots`: the figures, drawn without pyplot;
- `docs`: the scenario reference generated from the schema.
"""
