"""Farm submission (local runner, Open Job Description, OpenCue, Deadline).

May import the core and the engine, never Maya or Qt. Not built yet: it comes
with the farm issue; the package exists so the layer contracts guard it.
"""
