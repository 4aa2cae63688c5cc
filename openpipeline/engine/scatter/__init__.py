"""Points spread over meshes by neural gas, evenly or following a density map.

The public entry points; the modules hold the parts:

- :mod:`.distribute`: the job (:class:`ScatterParams`, :class:`ScatterResult`) and its driver;
- :mod:`.neural_gas`, :mod:`.growing_gas`: the methods (batch and online neural gas,
  growing neural gas);
- :mod:`.polish`: Lloyd steps with sampled or exact (tangent-plane Voronoi) centroids;
- :mod:`.graph`: neighbour graphs as edge lists;
- :mod:`.mesh`: meshes, surface sampling and closest points;
- :mod:`.density`: density maps through UVs and per-vertex weights;
- :mod:`.quality`: how even a distribution is (NQE, nearest-neighbour statistics);
- :mod:`.writers`: ``.npz``, ``.json`` and USD output;
- :mod:`.primitives`, :mod:`.preview`: test meshes and a picture of the result;
- :mod:`.job`: a scatter as a cacheable job (:class:`ScatterJob`), :func:`rebind`.
"""

from openpipeline.engine.scatter.density import DensityMap, require_uvs
from openpipeline.engine.scatter.distribute import ScatterParams, ScatterResult, scatter
from openpipeline.engine.scatter.job import ScatterJob, rebind, save_mesh
from openpipeline.engine.scatter.mesh import Mesh, load_mesh
from openpipeline.engine.scatter.quality import summary as quality_summary
from openpipeline.engine.scatter.writers import check_output, output_format
from openpipeline.engine.scatter.writers import write as write_points

__all__ = ["DensityMap", "Mesh", "ScatterJob", "ScatterParams", "ScatterResult", "check_output",
           "load_mesh", "output_format", "quality_summary", "rebind", "require_uvs", "save_mesh", "scatter",
           "write_points"]
