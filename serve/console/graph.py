"""The geometry of a workflow's graph, laid out on the server, for the console's script.

A workflow's nodes become boxes between a start and an end node; the nodes of an
inlined sub-workflow (ids ``<prefix>-<id>``) collapse into one group box named by the
prefix, and a map, dynamic or launch plan node is one box too, whose ``count`` says how
many nodes it ran inside itself. Phases are not part of the geometry: the page reads them
from the execution's change feed, so live updates never resend it.

The form sent (``Geometry.to_json``)::

    {"nodes": [[id, x, y, w, h, kind, label, count]], "edges": [[i, j]],
     "width": W, "height": H}

where ``i``, ``j`` index ``nodes``. Workflow versions never change, so the laid-out
geometry of one is kept (``workflow_geometry``); an execution's adds only its counts.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from engine.dag.spec import Identifier, Interface, Node, ResourceType, TaskSpec, WorkflowSpec
from serve.console.layout import layered

START, END = "start", "end"
BOX = (180, 40)
TERMINAL_BOX = (60, 30)
# A map task's name: its mapped task's, then ".map" and its settings' suffixes.
_MAP_NAME = re.compile(r"\.map(-[\w.]+)*$")
_KEEP = 64  # workflow versions whose geometry is kept
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Box:
    """One node of the drawing; ``count``: the nodes it stands for (0: just itself)."""

    id: str
    kind: str  # task|map|dynamic|subworkflow|launchplan|branch|gate|start|end
    label: str
    count: int
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Geometry:
    boxes: tuple[Box, ...]
    edges: tuple[tuple[int, int], ...]
    width: int
    height: int

    def index(self) -> dict[str, int]:
        return {b.id: i for i, b in enumerate(self.boxes)}

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [[b.id, b.x, b.y, b.w, b.h, b.kind, b.label, b.count]
                          for b in self.boxes],
                "edges": [list(e) for e in self.edges],
                "width": self.width, "height": self.height}


def group_of(node_id: str) -> str:
    """The box a workflow node is drawn in: its sub-workflow's prefix, or itself."""
    head, sep, _ = node_id.partition("-")
    return head if sep and head else node_id


def node_kind(spec: WorkflowSpec, node_id: str) -> str:
    """What kind of box a (top-level) node of ``spec`` is, from the spec alone (a
    dynamic node looks like a task until it runs)."""
    node = spec.node(node_id)
    if node.branch is not None:
        return "branch"
    if node.gate is not None:
        return "gate"
    return task_kind(spec.tasks.get(node.task))


def task_kind(task: TaskSpec | None) -> str:
    if task is None:
        return "task"
    if task.id.resource_type is ResourceType.LAUNCH_PLAN:
        return "launchplan"
    if _MAP_NAME.search(task.id.name):
        return "map"
    return "task"


def short_name(name: str) -> str:
    """A task's name without its module path: ``pkg.mod.square.map`` -> ``square.map``."""
    return name.rpartition(".")[2] or name


def _label(spec: WorkflowSpec, node_id: str) -> str:
    node = spec.node(node_id)
    if node.branch is not None:
        return node.branch.name or node_id
    if node.gate is not None:
        return f"{node.gate.kind.value} {node_id}"
    task = spec.tasks.get(node.task)
    if task is not None and _MAP_NAME.search(task.id.name):
        return short_name(_MAP_NAME.sub("", task.id.name)) + ".map"
    return short_name(node.task) if node.task else node_id


def layout_spec(spec: WorkflowSpec) -> Geometry:
    """Lay out ``spec``: start, its top-level nodes and sub-workflow groups, end."""
    ids: list[str] = [START]
    boxes: dict[str, tuple[str, str, int]] = {}  # id -> kind, label, count
    for node in spec.nodes:
        box = group_of(node.id)
        if box != node.id:
            kind, label, count = boxes.get(box, ("subworkflow", f"sub-workflow {box}", 0))
            boxes[box] = (kind, label, count + 1)
        else:
            boxes[box] = (node_kind(spec, node.id), _label(spec, node.id), 0)
        if box not in ids:
            ids.append(box)
    ids.append(END)
    index = {b: i for i, b in enumerate(ids)}
    edges: set[tuple[int, int]] = set()
    has_up: set[int] = set()
    has_down: set[int] = set()
    for node in spec.nodes:
        j = index[group_of(node.id)]
        for up in node.upstream():
            i = index.get(group_of(up))
            if i is not None and i != j:
                edges.add((i, j))
                has_up.add(j)
                has_down.add(i)
    for i in range(1, len(ids) - 1):
        if i not in has_up:
            edges.add((0, i))
        if i not in has_down:
            edges.add((i, len(ids) - 1))
    ordered = sorted(edges)
    sizes = [TERMINAL_BOX if b in (START, END) else BOX for b in ids]
    placed = layered(sizes, ordered)
    out = []
    for i, b in enumerate(ids):
        kind, label, count = boxes.get(b, (b, b, 0))
        out.append(Box(b, kind, label, count, placed.x[i], placed.y[i], *sizes[i]))
    return Geometry(tuple(out), tuple(ordered), placed.width, placed.height)


class Kept(Generic[K, V]):
    """The last ``keep`` values made, by key (for what never changes once registered)."""

    def __init__(self, keep: int = _KEEP) -> None:
        self.keep = keep
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found
        value = make()  # outside the lock: two first views may both make it, alike
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.keep:
                self._values.popitem(last=False)
        return value


_geometries: Kept[Identifier, Geometry] = Kept()
specs: Kept[Identifier, WorkflowSpec] = Kept()


def workflow_geometry(ident: Identifier, load: Callable[[], WorkflowSpec]) -> Geometry:
    """The geometry of workflow version ``ident``; ``load()`` gives its spec, called
    only the first time (versions are immutable, so their layout is kept)."""
    return _geometries.get(ident, lambda: layout_spec(load()))


def with_children(geometry: Geometry, children: Mapping[str, int],
                  kinds: Mapping[str, str]) -> Geometry:
    """``geometry`` with an execution's counts: ``children`` (node id -> how many nodes
    it ran inside itself) and ``kinds`` (node id -> kind learnt at run time: a node with
    children that is no map or launch plan is a dynamic node)."""
    if not children:
        return geometry
    boxes = []
    for box in geometry.boxes:
        count = children.get(box.id)
        if count is None:
            boxes.append(box)
        else:
            boxes.append(replace(box, count=count, kind=kinds.get(box.id, box.kind)))
    return replace(geometry, boxes=tuple(boxes))


def single_task(task: TaskSpec) -> WorkflowSpec:
    """The one-node workflow a task runs alone as (its node is ``n0``)."""
    return WorkflowSpec(task.id, Interface(), (Node("n0", task.id.name, ()),), (),
                        {task.id.name: task})
