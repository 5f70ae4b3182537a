"""Heat-by-heat structure: the state of a heat between decisions, stage data and stage models."""
