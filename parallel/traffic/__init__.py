"""The traffic twin: scenario models, the road network both worlds share, the actual
worlds (``actual/``), the artificial SimPy world (``artificial/``), and the five verbs
(judge, calibrate, experiments, machine)."""
