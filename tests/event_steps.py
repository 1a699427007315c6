"""Random event sequences for the property tests of kept views: one vocabulary of steps and one
way to run them, so every incremental view (the label index, the Dashboard's numbers, the
LFStudio's Y and accuracies) is checked against the same kinds of history.

A step is a tuple ``(kind, kernel, *args)``; ``kernel`` picks which of the test's connections
writes it. ``"read"`` writes nothing: it is where a test lets a connection that only watches
catch up over many steps at once.
"""

from __future__ import annotations

from hypothesis import strategies as st

KINDS = ("annotate", "undo", "retract_old", "gold", "remove_gold", "skip", "overlap",
         "item_overlap", "spot_check", "alert", "flag", "resolve", "add_item", "read")


def step_strategy(*, items, annotators, labels, kinds=KINDS, annotate_weight: int = 1,
          ms_on_item=None, sources=None):
    """A hypothesis strategy of one step. ``annotate_weight`` repeats the label step so items
    fill up; ``ms_on_item`` and ``sources`` are strategies for those fields of a label."""
    kernel = st.integers(0, 1)
    item, who, label = st.sampled_from(items), st.sampled_from(annotators), st.sampled_from(labels)
    ms_on_item = ms_on_item if ms_on_item is not None else st.none()
    sources = sources if sources is not None else st.just("human")
    shapes = {
        "annotate": st.tuples(st.just("annotate"), kernel, item, who, label, ms_on_item, sources),
        "undo": st.tuples(st.just("undo"), kernel, who),
        "retract_old": st.tuples(st.just("retract_old"), kernel, st.integers(0, 10**6)),
        "gold": st.tuples(st.just("gold"), kernel, item, label),
        "remove_gold": st.tuples(st.just("remove_gold"), kernel, item),
        "skip": st.tuples(st.just("skip"), kernel, item, who),
        "overlap": st.tuples(st.just("overlap"), kernel, st.integers(1, 3)),
        "item_overlap": st.tuples(st.just("item_overlap"), kernel, item, st.integers(1, 3)),
        "spot_check": st.tuples(st.just("spot_check"), kernel),
        "alert": st.tuples(st.just("alert"), kernel),
        "flag": st.tuples(st.just("flag"), kernel),
        "resolve": st.tuples(st.just("resolve"), kernel, item, label),
        "add_item": st.tuples(st.just("add_item"), kernel),
        "read": st.tuples(st.just("read"), kernel),
    }
    unknown = set(kinds) - set(shapes)
    if unknown:
        raise ValueError(f"unknown step kinds {sorted(unknown)}; known: {sorted(shapes)}")
    chosen = [shapes[k] for k in kinds]
    if "annotate" in kinds:
        chosen += [shapes["annotate"]] * (annotate_weight - 1)
    return st.one_of(*chosen)


def run_step(project, step) -> None:
    """Write one step through ``project`` (one connection)."""
    kind = step[0]
    if kind == "annotate":
        _, _, item, who, label, ms_on_item, source = step
        project.annotate(item, label, annotator=who, ms_on_item=ms_on_item, source=source)
    elif kind == "undo":
        project.undo(annotator=step[2])
    elif kind == "retract_old":  # an older event goes, whatever it was
        seqs = [e["seq"] for e in project.store.events() if e["kind"] != "retraction"]
        if seqs:
            project.ledger.retract([seqs[step[2] % len(seqs)]], notify="retraction")
    elif kind == "gold":
        project.set_gold([step[2]], [step[3]])
    elif kind == "remove_gold":
        project.remove_gold([step[2]])
    elif kind == "skip":
        project.skip(step[2], annotator=step[3])
    elif kind == "overlap":
        project.set_overlap(step[2])
    elif kind == "item_overlap":
        project.set_overlap(step[3], [step[2]])
    elif kind == "spot_check":
        project.spot_check(rate=0.5)
    elif kind == "alert":
        project.check_agreement(window=4, threshold=0.9, min_items=1)
    elif kind == "flag":
        project.flag_disagreements(threshold=0.9)
    elif kind == "resolve":
        project.resolve(step[2], step[3], annotator="lead")
    elif kind == "add_item":
        n = project.store.item_count()
        project.add_items([f"more {n}"], id=[f"x{n}"])
