"""The growing neural gas's state object, step by step on hand-placed nodes."""

from __future__ import annotations

import numpy as np
import pytest

from openpipeline.engine.scatter.growing_gas import FRITZKE, GrowingGas


def line_gas() -> GrowingGas:
    """Nodes 0, 1, 2 at x = 0, 1, 5 on a line, edges 0-1 and 1-2, room for two more."""
    gas = GrowingGas(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), capacity=5)
    gas.add_node(np.array([5.0, 0.0, 0.0]))
    gas.connect(1, 2)
    return gas


def test_learning_moves_the_nearest_node_and_its_neighbours():
    """The nearest node moves by ε_b, its neighbours by ε_n; its error grows by the squared
    distance; its other edges age and the edge to the second-nearest is made young."""
    gas = line_gas()
    gas.learn(np.array([1.5, 0.0, 0.0]))
    assert gas.nodes[1, 0] == pytest.approx(1.0 + FRITZKE.winner_step * 0.5)
    assert gas.nodes[0, 0] == pytest.approx(FRITZKE.neighbour_step * 1.5)
    assert gas.nodes[2, 0] == pytest.approx(5.0 - FRITZKE.neighbour_step * 3.5)
    assert gas.error[:3].tolist() == [0.0, 0.25, 0.0]
    assert gas.age == {(0, 1): 0, (1, 2): 1}


def test_the_nearest_two_are_joined_by_a_new_edge():
    """A sample between two unconnected nodes connects them (competitive Hebbian learning)."""
    gas = line_gas()
    gas.add_node(np.array([0.0, 2.0, 0.0]))  # node 3, no edges
    gas.learn(np.array([0.0, 1.1, 0.0]))  # nearest 3, then 0
    assert gas.age[(0, 3)] == 0
    assert gas.neighbours[3] == {0} and 3 in gas.neighbours[0]


def test_edges_older_than_the_maximum_age_are_pruned():
    """An edge of the nearest node at the maximum age stays; one step older, it goes
    (from both nodes' neighbours), and the node left alone stays in the gas."""
    gas = line_gas()
    gas.age[(1, 2)] = FRITZKE.max_age - 1
    gas.learn(np.array([1.0, 0.0, 0.0]))
    assert gas.age[(1, 2)] == FRITZKE.max_age
    gas.learn(np.array([1.0, 0.0, 0.0]))
    assert (1, 2) not in gas.age
    assert gas.neighbours[2] == set() and 2 not in gas.neighbours[1]
    assert gas.size == 3


def test_insert_splits_the_edge_of_largest_error():
    """The new node goes halfway between the node of largest error and its worst neighbour,
    replacing their edge; both give up half their error, which the new node takes."""
    gas = line_gas()
    gas.error[:3] = [1.0, 4.0, 2.0]
    new = gas.insert()
    assert new == 3 and gas.size == 4
    assert gas.nodes[3].tolist() == [3.0, 0.0, 0.0]
    assert sorted(gas.age) == [(0, 1), (1, 3), (2, 3)]
    assert gas.neighbours[3] == {1, 2} and gas.neighbours[2] == {3}
    assert gas.error[:4].tolist() == [1.0, 2.0, 1.0, 2.0]


def test_insert_refuses_when_the_worst_node_is_isolated():
    """With no neighbour to split towards, insert returns None and changes nothing."""
    gas = line_gas()
    lonely = gas.add_node(np.array([9.0, 9.0, 9.0]))
    gas.error[lonely] = 10.0
    before = (gas.size, dict(gas.age), gas.nodes.copy(), gas.error.copy())
    assert gas.insert() is None
    assert (gas.size, gas.age) == before[:2]
    assert np.array_equal(gas.nodes, before[2]) and np.array_equal(gas.error, before[3])


def test_edges_are_sorted_and_limited_to_the_first_nodes():
    """edges(count) lists (low, high) pairs in order, leaving out nodes from ``count`` on."""
    gas = line_gas()
    gas.add_node(np.array([0.0, 1.0, 0.0]))
    gas.connect(3, 0)
    assert gas.edges(4).tolist() == [[0, 1], [0, 3], [1, 2]]
    assert gas.edges(3).tolist() == [[0, 1], [1, 2]]
    assert gas.edges(4).dtype == np.int64


def test_errors_decay_on_the_nodes_in_use():
    """decay() multiplies the errors of the nodes in use by d, and only theirs."""
    gas = line_gas()
    gas.error[:] = 1.0
    gas.decay()
    assert gas.error.tolist() == [FRITZKE.error_decay] * 3 + [1.0, 1.0]
