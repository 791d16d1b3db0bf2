"""Render DOT graphs to files, with or without a system Graphviz install.

The ``graphviz`` package only writes DOT text; turning it into SVG or PNG
needs the Graphviz ``dot`` program, which ``pip`` cannot install. So that
``tinyseq`` can draw graphs right after ``pip install``, a real ``dot`` on
PATH is used when there is one, and otherwise the ``graphviz-pure`` command
(a self-contained, dot-compatible renderer shipped as a wheel on PyPI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import graphviz

__all__ = ["Digraph", "Graph", "find_renderer", "render_source", "system_dot"]

FALLBACK_COMMAND = "graphviz-pure"

# graphviz-pure estimates text widths from a table of ASCII glyphs and warns,
# once per label, about every other character ("→", "…"); the estimate it
# falls back to is fine, and the warning would bury any real one.
_NOISE = "no value for width of non-ASCII character"

_INSTALL_HINT = (
    "no Graphviz renderer found: install the 'graphviz-pure' package "
    "(pip install graphviz-pure) or Graphviz itself (https://graphviz.org/download/, "
    "e.g. 'apt install graphviz' or 'brew install graphviz') so that 'dot' is on PATH"
)


def system_dot() -> str | None:
    """Return the path of a real Graphviz ``dot`` on PATH, or None."""
    return shutil.which("dot")


def _fallback_executable() -> str | None:
    """Locate the ``graphviz-pure`` command installed by pip.

    It is looked for beside the running interpreter first, because a venv's
    scripts are often not on PATH (e.g. a notebook kernel started from a
    venv that was never activated).
    """
    exe = FALLBACK_COMMAND + (".exe" if os.name == "nt" else "")
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():  # pip install --user
        dirs.append(Path(sysconfig.get_path("scripts", user_scheme)))
    for d in dirs:
        candidate = d / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(FALLBACK_COMMAND)


def find_renderer() -> list[str] | None:
    """Return the command prefix that renders DOT, or None if there is none.

    A system ``dot`` wins (it supports every format, PDF included); the
    pip-installed ``graphviz-pure`` is the fallback.
    """
    found = system_dot() or _fallback_executable()
    return [found] if found else None


def _run(args: list[str], dot_source: str, cwd: str | None = None, quiet: bool = False) -> bytes:
    """Feed ``dot_source`` to the renderer with extra ``args``; return its stdout."""
    cmd = find_renderer()
    if cmd is None:
        raise RuntimeError(_INSTALL_HINT)
    proc = subprocess.run([*cmd, *args], input=dot_source.encode("utf-8"), capture_output=True, cwd=cwd)
    stderr = proc.stderr.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{Path(cmd[0]).name} failed (exit status {proc.returncode}): {stderr or 'no error message'}"
        )
    stderr = "\n".join(line for line in stderr.splitlines() if _NOISE not in line)
    if stderr and not quiet:
        # Layout warnings (e.g. unknown attributes) are worth seeing, as with dot.
        print(stderr, file=sys.stderr)
    return proc.stdout


def render_source(
    dot_source: str,
    path_without_ext: str | os.PathLike,
    format: str = "svg",
    *,
    engine: str = "dot",
    quiet: bool = False,
) -> str:
    """Render DOT text to ``f"{path_without_ext}.{format}"`` and return that path.

    Raises RuntimeError if no renderer is installed or if rendering fails
    (the message then holds the renderer's stderr).
    """
    out = f"{os.fspath(path_without_ext)}.{format}"
    return _render_file(dot_source, out, format, engine=engine, quiet=quiet)


def _render_file(
    dot_source: str, out: str | os.PathLike, format: str, *, engine: str = "dot", quiet: bool = False
) -> str:
    """Render DOT text into the file ``out``; return ``out`` as a string."""
    target = Path(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Run from the output's folder so relative paths in the graph (images)
    # resolve as they would with graphviz's own render().
    _run([f"-K{engine}", f"-T{format}", "-o", str(target)], dot_source, cwd=str(target.parent), quiet=quiet)
    return os.fspath(out)


class _FallbackRendering:
    """Mixin that routes render()/pipe() to the fallback when ``dot`` is absent.

    With a system ``dot`` everything goes through the graphviz package
    unchanged. Jupyter display needs no extra code: graphviz's
    ``_repr_mimebundle_`` calls ``self.pipe``, which is overridden here.
    """

    def render(self, filename=None, directory=None, view=False, cleanup=False, format=None, **kwargs):
        """Save the source and render it, like :meth:`graphviz.Digraph.render`.

        Without ``dot`` only ``outfile``, ``engine``, ``quiet`` and
        ``quiet_view`` are honoured among the extra keyword arguments.
        """
        if system_dot():
            return super().render(filename, directory=directory, view=view, cleanup=cleanup, format=format, **kwargs)
        engine = kwargs.get("engine") or self.engine
        outfile = kwargs.get("outfile")
        if outfile is not None:
            outfile = Path(outfile)
            format = format or outfile.suffix.lstrip(".")
            if directory is None:
                outfile = Path(self.directory, outfile)
                # the DOT source goes beside the picture (as graphviz does), not to the working directory
                directory = str(outfile.parent)
            filename = filename or outfile.with_suffix(".gv").name
        format = format or self.format
        filepath = self.save(filename, directory=directory)
        # Same naming as ``dot -O``: the source path plus ".<format>".
        out = outfile if outfile is not None else f"{filepath}.{format}"
        rendered = _render_file(self.source, out, format, engine=engine, quiet=kwargs.get("quiet", False))
        if cleanup:
            os.remove(filepath)
        if view or kwargs.get("quiet_view"):
            graphviz.view(rendered, quiet=kwargs.get("quiet_view", False))
        return rendered

    def pipe(
        self, format=None, renderer=None, formatter=None, neato_no_op=None, quiet=False, *, engine=None, encoding=None
    ):
        """Return the rendered graph as bytes (or str if ``encoding`` is given)."""
        if system_dot():
            return super().pipe(
                format,
                renderer=renderer,
                formatter=formatter,
                neato_no_op=neato_no_op,
                quiet=quiet,
                engine=engine,
                encoding=encoding,
            )
        data = _run([f"-K{engine or self.engine}", f"-T{format or self.format}"], self.source, quiet=quiet)
        return data.decode(encoding) if encoding is not None else data

    def _repr_svg_(self) -> str:
        """Inline SVG for front ends that ignore ``_repr_mimebundle_``."""
        return self.pipe(format="svg", encoding="utf-8")


class Digraph(_FallbackRendering, graphviz.Digraph):
    """:class:`graphviz.Digraph` that renders even without a system Graphviz."""


class Graph(_FallbackRendering, graphviz.Graph):
    """:class:`graphviz.Graph` that renders even without a system Graphviz."""
