"""The geometry of a workflow's graph, laid out on the server, for the console's script.

A workflow's nodes become boxes between a start and an end node; the nodes of an
inlined sub-workflow (ids ``<prefix>-<id>``) collapse into one group box named by the
prefix, and a map, dynamic or launch plan node is one box too, whose ``count`` says how
many nodes it ran inside itself. A static fan-out (at least ``FAN_MIN`` nodes of one task
with the same boxes upstream and downstream, a loop in the workflow's body) is one box as
well, of kind ``fan``, whose members the geometry lists under ``groups``: 2,000 alike
boxes in one column would be unreadable at any zoom. Phases are not part of the
geometry: the page reads them from the execution's change feed, so live updates never
resend it.

The form sent (``Geometry.to_json``)::

    {"nodes": [[id, x, y, w, h, kind, label, count]], "edges": [[i, j]],
     "width": W, "height": H, "groups": {fan_id: [member node ids]}}

where ``i``, ``j`` index ``nodes``. Workflow versions never change, so the laid-out
geometry of one is kept (``workflow_geometry``); an execution's adds only its counts.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from engine.dag.spec import Identifier, Interface, Node, ResourceType, TaskSpec, WorkflowSpec
from serve.console.layout import layered

START, END = "start", "end"
BOX = (180, 40)
# Boxes that stand for many nodes: room for their counts by phase ("×10000 ✓9996 ✗1 ▶3").
GROUP_BOX = (260, 40)
GROUPS = frozenset({"map", "fan", "subworkflow", "launchplan"})
TERMINAL_BOX = (60, 30)
# A map task's name: its mapped task's, then ".map" and its settings' suffixes.
_MAP_NAME = re.compile(r"\.map(-[\w.]+)*$")
_KEEP = 64  # workflow versions whose geometry is kept
FAN_MIN = 24  # alike sibling task nodes drawn as one box from this many on
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
    # A fan box's member nodes, by the fan's id.
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def index(self) -> dict[str, int]:
        return {b.id: i for i, b in enumerate(self.boxes)}

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [[b.id, b.x, b.y, b.w, b.h, b.kind, b.label, b.count]
                          for b in self.boxes],
                "edges": [list(e) for e in self.edges],
                "width": self.width, "height": self.height,
                "groups": {fan: list(members) for fan, members in self.groups.items()}}


def group_of(node_id: str) -> str:
    """The box a workflow node is drawn in: its sub-workflow's prefix, or itself."""
    head, sep, _ = node_id.partition("-")
    return head if sep and head else node_id


def node_kind(spec: WorkflowSpec, node_id: str) -> str:
    """What kind of box a (top-level) node of ``spec`` is, from the spec alone (a
    dynamic node looks like a task until it runs)."""
    return _kind(spec, spec.node(node_id))


def _kind(spec: WorkflowSpec, node: Node) -> str:
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


def _label(spec: WorkflowSpec, node: Node) -> str:
    if node.branch is not None:
        return node.branch.name or node.id
    if node.gate is not None:
        return f"{node.gate.kind.value} {node.id}"
    task = spec.tasks.get(node.task)
    if task is not None and _MAP_NAME.search(task.id.name):
        return short_name(_MAP_NAME.sub("", task.id.name)) + ".map"
    return short_name(node.task) if node.task else node.id


def layout_spec(spec: WorkflowSpec) -> Geometry:
    """Lay out ``spec``: start, its top-level nodes, sub-workflow groups and fans, end."""
    boxes: dict[str, tuple[str, str, int]] = {}  # id -> kind, label, count (in order)
    for node in spec.nodes:
        box = group_of(node.id)
        if box != node.id:
            kind, label, count = boxes.get(box, ("subworkflow", f"sub-workflow {box}", 0))
            boxes[box] = (kind, label, count + 1)
        else:
            boxes[box] = (_kind(spec, node), _label(spec, node), 0)
    links = {(group_of(up), group_of(node.id)) for node in spec.nodes
             for up in node.upstream() if group_of(up) != group_of(node.id)}
    groups = _fans(spec, boxes, links)
    alias = {member: fan for fan, members in groups.items() for member in members}
    ids = [START]
    for box in boxes:
        drawn = alias.get(box, box)
        if drawn not in ids:
            ids.append(drawn)
    ids.append(END)
    index = {b: i for i, b in enumerate(ids)}
    edges = {(index[alias.get(a, a)], index[alias.get(b, b)]) for a, b in links}
    has_up, has_down = {j for _, j in edges}, {i for i, _ in edges}
    for i in range(1, len(ids) - 1):
        if i not in has_up:
            edges.add((0, i))
        if i not in has_down:
            edges.add((i, len(ids) - 1))
    ordered = sorted(edges)
    shown = [("fan", boxes[groups[b][0]][1], len(groups[b])) if b in groups
             else boxes.get(b, (b, b, 0)) for b in ids]
    sizes = [TERMINAL_BOX if b in (START, END) else GROUP_BOX if kind in GROUPS else BOX
             for b, (kind, _, _) in zip(ids, shown, strict=True)]
    placed = layered(sizes, ordered)
    out = [Box(b, kind, label, count, placed.x[i], placed.y[i], *sizes[i])
           for i, (b, (kind, label, count)) in enumerate(zip(ids, shown, strict=True))]
    return Geometry(tuple(out), tuple(ordered), placed.width, placed.height, groups)


def _fans(spec: WorkflowSpec, boxes: Mapping[str, tuple[str, str, int]],
          links: set[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Fan id -> members: plain task nodes alike in their task and in the boxes up and
    down from them, ``FAN_MIN`` or more of them."""
    ups: dict[str, set[str]] = {}
    downs: dict[str, set[str]] = {}
    for a, b in links:
        downs.setdefault(a, set()).add(b)
        ups.setdefault(b, set()).add(a)
    tasks = {node.id: node.task for node in spec.nodes}
    alike: dict[tuple[str, frozenset[str], frozenset[str]], list[str]] = {}
    for box, (kind, _, _) in boxes.items():
        if kind == "task" and box in tasks:
            key = (tasks[box], frozenset(ups.get(box, ())),
                   frozenset(downs.get(box, ())))
            alike.setdefault(key, []).append(box)
    return {f"fan:{members[0]}": tuple(members) for members in alike.values()
            if len(members) >= FAN_MIN}


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
