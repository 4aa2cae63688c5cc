"""Compute engine: two products and what they share.

- :mod:`.texture`: texture restoration with Deep Image Prior (denoise, inpaint,
  upscale, flash/no-flash), its classical guides, noise estimation and duration model.
- :mod:`.scatter`: points spread over meshes by neural gas, evenly or by density,
  with an exact polish, quality metrics and writers.

Shared by both, here: :mod:`.images` (image files), :mod:`.progress` (progress and
cancellation), :mod:`.errors`, :mod:`.devices` (CUDA / MPS / CPU and threads); files
are published through :mod:`openpipeline.atomic`. :mod:`.cache` keeps finished results
by a hash of what made them, :mod:`.jobs` states a job as a value and runs it through
the cache, and :mod:`.worker` runs one in a separate process (Maya stays responsive).

numpy/torch only: never imports the pipeline core, Maya or Qt; the two products do
not import each other (import-linter contracts in pyproject.toml).
"""
