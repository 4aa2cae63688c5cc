"""Compute engine (Deep Image Prior textures, neural-gas scattering).

numpy/torch only: never imports the pipeline core, Maya or Qt. The engines land
with their own issues; this package exists now so the layer contracts in
pyproject.toml guard it from the first line written here.
"""
