"""Drawing unrolled computation graphs (``ts.viz``).

    loss = model(x) ...                     # record a graph
    ts.viz.draw(loss).render("lstm", format="png")   # the lecture's unrolled figure
    ts.viz.draw(loss, detail="op")          # each step as its gate equations
    ts.viz.draw(loss, show_grad=True)       # steps coloured by |dL/dh_t|, log scale
    ts.viz.gradient_norms(loss)             # {(layer, direction): [norm per t]}
    ts.viz.plot_gradient_flow(loss)         # matplotlib figure, log y
    ts.viz.html(loss).save("graph.html")    # interactive page: hover, step, play BPTT

Hand-written loops tag their steps with ``with ts.viz.step(t):``. From a
shell: ``python -m tinyseq.viz lstm --layers 2 --bidirectional -o lstm.svg``.
Rendering uses a system Graphviz ``dot`` when there is one and the
pip-installed ``graphviz-pure`` otherwise (see ``tinyseq.viz.render``).
"""

from .draw import draw
from .gradients import gradient_norms, plot_gradient_flow
from .graph import step
from .html import HTMLGraph, html

__all__ = ["draw", "step", "gradient_norms", "plot_gradient_flow", "html", "HTMLGraph"]
