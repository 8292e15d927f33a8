"""The layer graph: nodes, edges with shapes, per-layer workload and shape problems."""

from __future__ import annotations

from dslc.graph.layer_graph import LayerStats, build_graph
from dslc.spec import network as spec


def small_net() -> spec.NetworkSpec:
    """A residual block, pooling and a classifier on a 3x32x32 image."""
    return spec.NetworkSpec(
        name="small", inputs=(spec.InputSpec(name="x", shape=(3, 32, 32)),),
        layers=(
            spec.ConvLayer(name="stem", inputs=("x",), out_channels=16, kernel=(3, 3),
                           pad=(1, 1)),
            spec.ConvLayer(name="a", inputs=("stem",), out_channels=16, kernel=(3, 3),
                           pad=(1, 1)),
            spec.ElementwiseLayer(name="r", inputs=("a",), function="relu"),
            spec.AddLayer(name="y", inputs=("r", "stem")),
            spec.PoolLayer(name="p", inputs=("y",), op="maxpool", kernel=(2, 2),
                           stride=(2, 2)),
            spec.PoolLayer(name="g", inputs=("p",), op="avgpool", global_pool=True),
            spec.FlattenLayer(name="f", inputs=("g",)),
            spec.DenseLayer(name="fc", inputs=("f",), out_features=10),
        ))


def test_nodes_edges_and_shapes() -> None:
    graph = build_graph(small_net())
    assert graph.ok and graph.problems == () and graph.skipped == ()
    assert list(graph.graph.nodes) == ["x", "stem", "a", "r", "y", "p", "g", "f", "fc"]
    assert dict(graph.shapes) == {
        "x": (3, 32, 32), "stem": (16, 32, 32), "a": (16, 32, 32), "r": (16, 32, 32),
        "y": (16, 32, 32), "p": (16, 16, 16), "g": (16, 1, 1), "f": (16,), "fc": (10,)}
    assert graph.graph.edges["stem", "y"] == {"shape": (16, 32, 32), "positions": (1,)}
    assert graph.graph.nodes["x"]["kind"] == "input"
    assert graph.graph.nodes["fc"]["op"] == "dense"
    assert graph.inputs() == ("x",)
    assert graph.outputs() == ("fc",)
    assert graph.input_shapes("y") == ((16, 32, 32), (16, 32, 32))
    assert [layer.name for layer in graph.topological_layers()] == [
        "stem", "a", "r", "y", "p", "g", "f", "fc"]
    assert graph.layer("fc").op == "dense"


def test_workload_per_layer_and_totals() -> None:
    graph = build_graph(small_net())
    # stem: 16*32*32 outputs x 3*3*3 each; a: 16*32*32 x 16*3*3; fc: 10 x 16.
    assert graph.stats("stem") == LayerStats("stem", "conv", 16 * 32 * 32 * 27, 3 * 32 * 32,
                                             16 * 32 * 32, 16 * 27)
    assert graph.stats("a").macs == 16 * 32 * 32 * 144
    assert graph.stats("fc") == LayerStats("fc", "dense", 160, 16, 10, 160)
    # The add reads both operands and moves data without MACs.
    add = graph.stats("y")
    assert (add.macs, add.input_elements, add.output_elements, add.weight_elements) == (
        0, 2 * 16 * 32 * 32, 16 * 32 * 32, 0)
    assert add.moved_elements == 3 * 16 * 32 * 32
    assert graph.stats("p").input_elements == 16 * 32 * 32
    assert graph.stats("p").output_elements == 16 * 16 * 16
    assert graph.total_macs() == 442_368 + 2_359_296 + 160
    assert graph.total_weights() == 432 + 2_304 + 160
    # Activations and MACs scale with the batch; weights are shared by every sample.
    batched = graph.stats("stem", batch=4)
    assert (batched.macs, batched.input_elements, batched.weight_elements) == (
        4 * 442_368, 4 * 3 * 32 * 32, 432)
    assert graph.total_macs(batch=4) == 4 * graph.total_macs()
    assert [s.name for s in graph.all_stats()] == ["stem", "a", "r", "y", "p", "g", "f", "fc"]


def test_grouped_depthwise_matmul_einsum_workloads() -> None:
    network = spec.NetworkSpec(
        name="mixed",
        inputs=(spec.InputSpec(name="x", shape=(16, 8, 8)),
                spec.InputSpec(name="q", shape=(4, 10, 8)),
                spec.InputSpec(name="s", shape=(6, 20))),
        layers=(
            spec.ConvLayer(name="g", inputs=("x",), out_channels=32, kernel=(3, 3),
                           pad=(1, 1), groups=4),
            spec.DepthwiseConvLayer(name="d", inputs=("g",), kernel=(3, 3), multiplier=2),
            spec.MatmulLayer(name="m", inputs=("q", "q"), transpose_b=True),
            spec.EinsumLayer(
                name="e", inputs=("s",), dims=(("K", 5), ("C", 6), ("P", 18), ("R", 3)),
                tensors=(
                    spec.EinsumTensor(name="O", role="output", indices=(
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="K", coefficient=1),)),
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="P", coefficient=1),)))),
                    spec.EinsumTensor(name="I", role="input", indices=(
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="C", coefficient=1),)),
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="P", coefficient=1),
                                                spec.AffineTerm(dim="R", coefficient=1))))),
                    spec.EinsumTensor(name="W", role="weight", indices=(
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="K", coefficient=1),)),
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="C", coefficient=1),)),
                        spec.AffineIndex(terms=(spec.AffineTerm(dim="R", coefficient=1),)))),
                )),
        ))
    graph = build_graph(network)
    assert graph.ok
    # grouped: 32*8*8 outputs, each over 16/4 channels x 9 taps; weights 32 x 4 x 9
    assert (graph.stats("g").macs, graph.stats("g").weight_elements) == (
        32 * 64 * 36, 32 * 36)
    # depthwise x2 on [32, 8, 8]: [64, 6, 6], 9 taps each; weights 64 x 9
    assert graph.shape("d") == (64, 6, 6)
    assert (graph.stats("d").macs, graph.stats("d").weight_elements) == (64 * 36 * 9, 64 * 9)
    # q q^T per head: [4, 10, 10], K = 8; a matmul has no weights
    assert graph.shape("m") == (4, 10, 10)
    assert (graph.stats("m").macs, graph.stats("m").weight_elements) == (4 * 100 * 8, 0)
    # The edge q -> m is consumed at both positions.
    assert graph.graph.edges["q", "m"]["positions"] == (0, 1)
    assert graph.stats("m").input_elements == 2 * 4 * 10 * 8
    # einsum: product of the bounds; weight W spans [5, 6, 3]
    assert graph.shape("e") == (5, 18)
    assert (graph.stats("e").macs, graph.stats("e").weight_elements) == (
        5 * 6 * 18 * 3, 5 * 6 * 3)


def test_failed_layer_is_reported_once_and_its_consumers_skipped() -> None:
    network = spec.NetworkSpec(
        name="broken",
        inputs=(spec.InputSpec(name="x", shape=(64, 8, 8)),
                spec.InputSpec(name="w", shape=(128, 8, 8))),
        layers=(
            spec.AddLayer(name="bad", inputs=("x", "w")),
            spec.ElementwiseLayer(name="r", inputs=("bad",), function="relu"),
            spec.AddLayer(name="z", inputs=("r", "x")),
            spec.ElementwiseLayer(name="ok", inputs=("x",), function="relu"),
        ))
    graph = build_graph(network)
    assert len(graph.problems) == 1
    problem = graph.problems[0]
    assert (problem.layer, problem.attribute) == ("bad", "1")
    assert "[64, 8, 8] and [128, 8, 8]" in problem.message
    assert graph.skipped == ("r", "z")
    assert not graph.ok
    assert "bad" not in graph.graph.nodes and "r" not in graph.shapes
    assert graph.shape("ok") == (64, 8, 8)
    assert graph.outputs() == ("ok", "w")


def test_unknown_duplicate_and_misordered_names() -> None:
    network = spec.NetworkSpec(
        name="names", inputs=(spec.InputSpec(name="x", shape=(4, 4)),),
        layers=(
            spec.ElementwiseLayer(name="early", inputs=("late",), function="relu"),
            spec.AddLayer(name="u", inputs=("x", "nowhere")),
            spec.ElementwiseLayer(name="late", inputs=("x",), function="relu"),
            spec.ElementwiseLayer(name="late", inputs=("x",), function="tanh"),
            spec.ElementwiseLayer(name="me", inputs=("me",), function="relu"),
        ))
    graph = build_graph(network)
    found = [(p.layer, p.attribute) for p in graph.problems]
    assert found == [("early", "0"), ("u", "1"), ("late", "name"), ("me", "0")]
    messages = [p.message for p in graph.problems]
    assert "used before" in messages[0]
    assert "unknown input `nowhere`" in messages[1]
    assert "defined twice" in messages[2]
    assert "consumes itself" in messages[3]
    # The first definition stands.
    assert graph.layer("late").inputs == ("x",)
    assert graph.graph.nodes["late"]["layer"].function == "relu"


def test_bad_input_shape_skips_its_consumers() -> None:
    network = spec.NetworkSpec(
        name="empty", inputs=(spec.InputSpec(name="x", shape=(0, 4)),),
        layers=(spec.FlattenLayer(name="f", inputs=("x",)),))
    graph = build_graph(network)
    assert [(p.layer, p.attribute) for p in graph.problems] == [("x", "shape")]
    assert graph.skipped == ("f",)
    assert graph.inputs() == ()
