"""What the DG nodes compute, as plain Python: no maya here.

The Maya plug-in files (``nodes/opDipTexture.py``, ``nodes/opNeuralGasScatter.py``) read
attribute values, hand them to :mod:`.texture_node` / :mod:`.scatter_node` and write the
answers back; :mod:`.state` is the per-node state machine (cache, background job, batch);
:mod:`.ids` holds every name and type ID Maya stores. This package may import the engine
and ``atomic``, never core, host, cli, farm, ui, maya or Qt.
"""
