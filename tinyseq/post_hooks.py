"""Post-accumulate-grad hooks of leaves (``Tensor.register_post_accumulate_grad_hook``), as
PyTorch's: a leaf's hooks run once its last gradient of a backward pass is in ``.grad``.
DistributedDataParallel uses them to start reducing a gradient as soon as it is ready. The
engine (autograd.backward) counts gradient edges to hooked leaves only while one exists."""

from __future__ import annotations

import weakref

# Leaves with post-accumulate-grad hooks: id(leaf) -> (weak reference to it, [hooks]). Kept here,
# not on the tensor, so that copies of a tensor do not inherit them; a backward pass counts
# gradient edges only while this is non-empty, so the engine's loop is unchanged otherwise.
_post_hooked: dict = {}


def _post_hooks(t):
    entry = _post_hooked.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else None


def register_post_accumulate_grad_hook(leaf, hook):
    """``Tensor.register_post_accumulate_grad_hook``: see there."""
    if leaf._ctx is not None:
        raise RuntimeError(
            f"register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on "
            f"non-leaf tensors (this one, of shape {leaf.shape}, was made by {leaf._ctx.name})"
        )
    if not leaf.requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require "
            f"gradient (shape {leaf.shape}); call requires_grad_() first"
        )
    hooks = _post_hooks(leaf)
    if hooks is None:
        key, hooks = id(leaf), []

        def forget(ref, key=key, table=_post_hooked):  # the leaf died: its entry goes (unless reused)
            if table.get(key, (None,))[0] is ref:
                del table[key]

        _post_hooked[key] = (weakref.ref(leaf, forget), hooks)
    hooks.append(hook)
    return _PostHookHandle(leaf, hook)


class _PostHookHandle:
    def __init__(self, leaf, hook):
        self._leaf, self._hook = weakref.ref(leaf), hook

    def remove(self) -> None:
        leaf = self._leaf()
        hooks = None if leaf is None else _post_hooks(leaf)
        if hooks and self._hook in hooks:
            hooks.remove(self._hook)
            if not hooks:
                del _post_hooked[id(leaf)]


def count_hooked_edges(roots) -> dict:
    """leaf -> how many gradients it will be handed in this backward, for every leaf with
    post-accumulate hooks that the roots reach (one walk over the graph)."""
    counts: dict = {}
    seen: set = set()
    stack: list = []
    for root in roots:
        fn = root._ctx
        if fn is None:
            if _post_hooks(root):
                counts[root] = counts.get(root, 0) + 1
        elif fn not in seen:
            seen.add(fn)
            stack.append(fn)
    while stack:
        for parent, idx in stack.pop().parents:
            if parent is None:
                continue
            if idx < 0:
                if _post_hooks(parent):
                    counts[parent] = counts.get(parent, 0) + 1
            elif parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return counts


def count_down(parents, counts, held) -> None:
    """One gradient edge of each hooked leaf in ``parents`` is done (its gradient, if any,
    already added); a leaf whose last edge this was runs its hooks now, unless
    ``register_hook`` hooks hold its gradient until the end of the pass."""
    for parent, _ in parents:
        if parent in counts:  # only leaves are keys
            counts[parent] -= 1
            if counts[parent] == 0 and parent not in held:
                del counts[parent]
                run_post_hooks(parent)


def run_post_hooks(leaf) -> None:
    for hook in list(_post_hooks(leaf) or ()):
        hook(leaf)
