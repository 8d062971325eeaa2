"""The GAN layer: the smallest parallel machine.

The generator is the artificial system, the data are the actual one, and the
discriminator is the judge. ``losses`` and ``nets`` are registries the scenario and CLI
choose from by name; ``train`` is the trainer (device choice, n_critic, EMA, penalties,
atomic checkpoints, resume, divergence guard); ``toy`` holds PacGAN's mode-coverage
settings.
"""
