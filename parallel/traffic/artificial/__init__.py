"""The artificial world: a mesoscopic SimPy model on a networkx graph."""
