"""Steel dosing optimizer: the domain (config, data, simulator, surrogates, optimization)."""
