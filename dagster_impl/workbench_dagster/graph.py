"""The asset graph of a code location, read back in the spec's terms (for the conformance test).

Assets are nodes named by the last part of their key; a blocking asset check is the node of
its gate step, downstream of its asset and upstream of everything that reads that asset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import Definitions
from dagster._core.definitions.graph_definition import GraphDefinition


@dataclass
class NativeGraph:
    """One pipeline as Dagster sees it."""

    upstream: dict[str, set[str]] = field(default_factory=dict)
    external_upstream: dict[str, set[str]] = field(default_factory=dict)  # other groups
    gates: set[str] = field(default_factory=set)  # blocking checks
    mapped: set[str] = field(default_factory=set)  # graph-backed assets with dynamic outputs
    optional: set[str] = field(default_factory=set)  # assets that may not materialise
    descriptions: dict[str, str] = field(default_factory=dict)

    def edges(self) -> set[tuple[str, str]]:
        return {(u, d) for d, ups in self.upstream.items() for u in ups}


def _has_dynamic_output(node_def) -> bool:
    if isinstance(node_def, GraphDefinition):
        return any(_has_dynamic_output(n.definition) for n in node_def.nodes)
    return any(o.is_dynamic for o in node_def.output_defs)


def native_graph(defs: Definitions, pipeline: str) -> NativeGraph:
    graph = defs.resolve_asset_graph()
    keys = graph.asset_keys_for_group(pipeline)
    out = NativeGraph()
    gate_of: dict = {}  # asset key -> names of its blocking checks
    for check_key in graph.asset_check_keys:
        if check_key.asset_key in keys and graph.get(check_key).blocking:
            gate_of.setdefault(check_key.asset_key, set()).add(check_key.name)
            out.gates.add(check_key.name)
            out.upstream[check_key.name] = {check_key.asset_key.path[-1]}
            out.descriptions[check_key.name] = graph.get(check_key).description or ""
    for k in keys:
        node = graph.get(k)
        name = k.path[-1]
        ups = set()
        for parent in node.parent_keys:
            if parent in keys:
                ups |= gate_of.get(parent) or {parent.path[-1]}
            else:
                out.external_upstream.setdefault(name, set()).add("/".join(parent.path))
        out.upstream[name] = ups
        out.descriptions[name] = node.description or ""
        assets_def = node.assets_def
        if _has_dynamic_output(assets_def.node_def):
            out.mapped.add(name)
        output_name = assets_def.get_output_name_for_asset_key(k)
        if not _output_required(assets_def.node_def, output_name):
            out.optional.add(name)
    return out


def _output_required(node_def, output_name: str) -> bool:
    """Whether an output is produced whenever its asset's run succeeds."""
    if not isinstance(node_def, GraphDefinition):
        return node_def.output_def_named(output_name).is_required
    mapping = node_def.get_output_mapping(output_name)
    inner = node_def.node_named(mapping.maps_from.node_name).definition
    return (_output_required(inner, mapping.maps_from.output_name)
            and _always_runs(node_def, mapping.maps_from.node_name))


def _always_runs(graph_def: GraphDefinition, node_name: str) -> bool:
    """Whether a node inside a graph is never skipped: each of its inputs is fed by an output
    that is always produced. A fan-in input (the join) runs after whichever source ran."""
    ups = graph_def.dependency_structure.input_to_upstream_outputs_for_node(node_name)
    for outputs in ups.values():
        if len(outputs) > 1:
            continue
        if not all(o.output_def.is_required and _always_runs(graph_def, o.node.name)
                   for o in outputs):
            return False
    return True
