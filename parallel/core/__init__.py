"""The machinery every parallel machine shares: the loop, run folders, executors,
named random streams, registries and the error hierarchy. Nothing here knows traffic
or GANs."""
