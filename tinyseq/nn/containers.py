"""Sequential, ModuleList and ModuleDict: modules that hold modules."""

from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module


def _index(index, n, owner):
    """A list position from an int index (negatives count from the end)."""
    i = operator.index(index)
    if not -n <= i < n:
        raise IndexError(f"{owner}: index {i} is out of range for {n} modules")
    return i % n


def _view(cls, items):
    """A container holding ``items`` (name, module) without adopting them: a slice of a
    model must not rename the model's parameters (``qualified_name``) or its scopes."""
    new = cls()
    new._modules.update(items)
    return new


class _Indexed(Module):
    """Modules registered under the names "0", "1", ...; renumbered after a deletion (as PyTorch)."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return _view(type(self), [(str(i), m) for i, m in enumerate(mods[index])])
        return mods[_index(index, len(mods), type(self).__name__)]

    def __setitem__(self, index, module):
        setattr(self, str(_index(index, len(self), type(self).__name__)), module)

    def __delitem__(self, index):
        keys = list(self._modules)
        doomed = keys[index] if isinstance(index, slice) else [keys[_index(index, len(keys), type(self).__name__)]]
        for k in doomed:
            delattr(self, k)
        self._renumber()

    def _renumber(self):
        mods = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(mods):
            setattr(self, str(i), m)

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        n = len(mods)
        i = max(0, min(n, index + n if index < 0 else index))
        mods.insert(i, module)
        self._modules.clear()
        for j, m in enumerate(mods):
            setattr(self, str(j), m)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_Indexed):
    """Calls its modules in order, each on the previous one's output.

    ``Sequential(a, b, c)`` names them "0", "1", "2"; ``Sequential(OrderedDict(name=module, ...))``
    keeps the given names.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for m in args:
                self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {type(module).__name__} is not a Module")
        return super().append(module)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _view(Sequential, list(self._modules.items())[index])
        return super().__getitem__(index)

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential: cannot add a {type(other).__name__}")
        return Sequential(*self, *other)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_Indexed):
    """A list of modules, registered so their parameters are found; no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: {type(module).__name__} is not a Module")
        return super().append(module)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def __repr__(self):
        # Runs of identical children print once, as "(0-11): 12 x Block(...)" (PyTorch's format).
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        lines, start = [], 0
        for i in range(1, len(reprs) + 1):
            if i < len(reprs) and reprs[i] == reprs[start]:
                continue
            head = f"({start}): " if i - start == 1 else f"({start}-{i - 1}): {i - start} x "
            lines.append("  " + (head + reprs[start]).replace("\n", "\n  "))
            start = i
        return "ModuleList(\n" + "\n".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys; no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {type(key).__name__}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {type(module).__name__} is not a Module")
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        module = self._modules[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self[key] = module
