"""The simulated plant: machine models, scripted faults, and a runner built on the agent SDK."""
