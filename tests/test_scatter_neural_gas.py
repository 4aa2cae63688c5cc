"""Batch neural gas's small parts: its schedule, its progress meter, its work plan."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from openpipeline.engine.progress import Reporter
from openpipeline.engine.scatter.distribute import ScatterParams
from openpipeline.engine.scatter.mesh import Surface
from openpipeline.engine.scatter.neural_gas import BatchNeuralGas, BatchSchedule, WorkMeter
from openpipeline.engine.scatter.primitives import plane, torus


def test_scatter_params_set_the_batch_schedule():
    """Every stage length of the schedule comes from the ScatterParams field of its name."""
    names = [f.name for f in dataclasses.fields(BatchSchedule)]
    params = ScatterParams(count=10, **{name: 100 + i for i, name in enumerate(names)})
    schedule = params.batch_schedule()
    assert [getattr(schedule, name) for name in names] == [100 + i for i in range(len(names))]


def test_work_meter_reports_the_share_done_up_to_98_percent():
    """Each advance reports 0.98 × done / planned with its stage and message, never over 0.98."""
    seen = []
    meter = WorkMeter(Reporter(lambda p: seen.append((p.stage, round(p.fraction, 9), p.message))), 200)
    meter.advance(50, "polish", "a")
    meter.advance(150, "polish", "b")
    meter.advance(100, "exact polish", "c")
    assert seen == [("polish", 0.245, "a"), ("polish", 0.98, "b"), ("exact polish", 0.98, "c")]


@pytest.mark.parametrize("mesh", [torus(sections=32, rings=16), plane(divisions=8)])
def test_the_work_plan_is_the_work_done(mesh):
    """Over two coarse-to-fine levels, the work counted as done is exactly the work planned,
    so progress ends at 98 % on a closed mesh and on an open one."""
    schedule = ScatterParams(count=1, multigrid_base=100, detail_multigrid_base=100).batch_schedule()
    solver = BatchNeuralGas(Surface(mesh), schedule, np.random.default_rng(0), Reporter(None), 1.0)
    points, edges, _ = solver.solve(350)
    assert len(points) == 350 and edges.max() < 350
    assert solver.meter.total == solver.planned_work([88, 350]) > 0
    assert solver.meter.done == solver.meter.total
