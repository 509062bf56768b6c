"""gamebench's Hydra sweeper: the default `hydra/sweeper` of `gamebench -m` (see gamebench.sweep)."""
