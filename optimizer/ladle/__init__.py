"""Real ladle-furnace data: adapter, final-temperature surrogate, energy and sampling recommendations."""
