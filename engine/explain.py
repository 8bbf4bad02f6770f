"""How one number of one step came about: the formula for that entry, the same with its numbers, its terms,
and every input cell it read; and, for a gradient, the chain of links from the loss down to it.

An explanation is made from the recorded step alone (its inputs and its value), by the maths the step
itself used, so its terms add up to the very number on screen, to within the rounding of the sum. The
words of each op (``max(u, 0)``, ``z·(1 − z)``, a loss's term) come from :mod:`ops`; the words here are
the ones every step shares.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nnstep.engine import names
from nnstep.engine.numbers import exact
from nnstep.engine.ops import ACTIVATIONS, LOSSES, Activation, batch_size
from nnstep.engine.steps import Iteration, Step, shape_label

#: An index into a step's array: ``(0, 3)`` for a matrix, ``(3,)`` for a vector, ``()`` for the loss.
Cell = tuple[int, ...]

TEXT = {
    "more": "({n} more terms: {total})",
    "zeros": "{n} of the {total} terms {are} 0 and left out",
    "largest": "the {k} largest terms shown are {index} = {which}",
    "largest_cells": "the {k} largest terms shown are those of {which}",
    "partial": "∂E/∂{name}",
    "reads": "reads",
    "cells": "{n} cells of {name}",
    "chain": "The chain from the loss down to {cell}:",
    "chain_more": "… and {n} more cells of {name} that this depends on, each explained the same way",
    "no_chain": "{name} is computed going forward; the chain of derivatives runs from the loss down to a delta, "
                "a gradient or an update.",
    "slope": "{name}'({u}) = {slope}",
    "blocked": "{name}'({u}) = 0 here, so no gradient flows back through this cell",
    "softmax_g": "g = (y − d) / {n}, dE/dy of the mean squared error",
    "softmax_back_g": "g = {above}·{W}ᵀ, dE/d{z}",
    "softmax_sum": "Σₖ exp({row} − m) = {terms} = {total}",
    "hidden_sum": "Σₖ {above}[{k}]·{W}[{j},k]",
    "after": "{cell} after",
    "before": "{cell} before",
    "learning_rate": "−learning_rate·{grad}",
    "batch_row": "row {row} of the batch is training sample {sample} (counted from 0)",
    "not_finite": "Not a finite number: the values overflowed float64 (inf) or became undefined (nan); "
                  "a smaller learning rate or smaller weights keep them in range.",
    # Errors, each with the valid range.
    "bad_cell_text": "CELL '{text}' is not an index: expected whole numbers separated by commas, e.g. {example}",
    "bad_rank": "{name} is {what}, so CELL needs {need}, found {found}",
    "bad_range": "CELL {cell} is outside {name} (shape {shape}): {ranges}",
    "scalar": "a number (the loss)",
    "rank_need_0": "no index (leave CELL empty)",
    "rank_need": "{k} index{es}: {ranges}",
    "bad_step_number": "STEP {n} is outside this iteration: its steps are 1 to {total}",
    "bad_step_name": "no step produces '{text}'{hint}; the steps are 1 to {total}, or {valid}",
    "did_you_mean": " (did you mean '{name}'?)",
    "output_is_y": " (the output layer's activation is called y)",
    "forward_only": " (this scenario is forward only: it has no loss, so no backward or update steps)",
}


class ExplainError(ValueError):
    """Why a STEP or a CELL names nothing: one line, with the valid range."""


@dataclass(frozen=True)
class Read:
    """An input cell the entry's formula reads: the input's name (as in ``step.inputs``) and its index."""

    array: str
    cell: Cell


@dataclass(frozen=True)
class Term:
    """A summand (or a factor) of the entry, named with the cells it is made of."""

    label: str
    value: float
    #: The cell of a delta or gradient that this term carries, where it carries one (``delta1[n,2]`` in a
    #: term of ``grad_W1[1,2]``): the chain follows the largest.
    via: Read | None = None


@dataclass(frozen=True)
class Explanation:
    """One entry of one step, explained."""

    step: Step
    cell: Cell
    value: float
    #: The formula for that one entry: ``u2[0,3] = z1[0,0]·W2[0,3] + z1[0,1]·W2[1,3] + z1[0,2]·W2[2,3] + b2[3]``.
    formula: str
    #: The same with the numbers plugged in (long sums shortened to their largest terms).
    expansion: str
    #: Every summand (``combine == "sum"``) or factor (``"product"``); combined, they give ``value``.
    terms: tuple[Term, ...]
    combine: Literal["sum", "product"]
    #: Every input cell the formula for this entry reads, and nothing else.
    reads: tuple[Read, ...]
    #: What to show, in order: the formula, what its symbols stand for, the numbers, any intermediate
    #: line, ``= value``, then the note.
    lines: tuple[str, ...]
    #: What this one cell needs said (a dead unit here, an overflow); the last of ``lines``.
    note: str = ""
    #: Why every entry of the step is what it is (the step's own note: a slope that cancels, the course's
    #: loss); not in ``lines``, since the step shows it once for all its cells.
    why: str = ""


def label(name: str, cell: Cell) -> str:
    """``z1[0,3]``; ``loss`` for a scalar."""
    return name if not cell else f"{name}[{','.join(str(i) for i in cell)}]"


def _index(cell: Cell, last: str) -> str:
    """``[0,k]`` / ``[k]``: a row's cells with a running index ``last``."""
    return "[" + ",".join([str(i) for i in cell] + [last]) + "]"


def _num(value: float, digits: int | None) -> str:
    v = float(value)
    return exact(v) if digits is None or not np.isfinite(v) else f"{v:.{digits}g}"


def _arg(value: float, digits: int | None) -> str:
    """A number as a factor or a later summand: negative ones in parentheses."""
    text = _num(value, digits)
    return f"({text})" if text.startswith("-") else text


def _plug(template: str, digits: int | None, **values: float) -> str:
    """A template with numbers for its names: bare where the template already brackets them."""
    for key, v in values.items():
        template = template.replace("({" + key + "})", "(" + _num(v, digits) + ")")
    return template.format(**{k: _arg(v, digits) for k, v in values.items()})


def _join(texts) -> str:
    """``a + b − c``: a summand written with a leading minus is subtracted."""
    out = ""
    for i, text in enumerate(texts):
        if i == 0:
            out = text
        elif text.startswith("−"):
            out += " − " + text[1:]
        else:
            out += " + " + text
    return out


def _sum(parts: list[tuple[str, float]], top: int, digits: int | None, always=()) -> tuple[str, list[int] | None]:
    """``a + b + c``, or the ``top`` largest by size and ``(N more terms: total)``; ``always`` at the end.
    Also which parts were shown, when not all of them were."""
    if len(parts) > top + 1:
        order = sorted(range(len(parts)), key=lambda i: -abs(parts[i][1]))
        shown = [parts[i][0] for i in order[:top]]
        rest = [parts[i][1] for i in order[top:]]
        shown.append(TEXT["more"].format(n=len(rest), total=_num(float(np.sum(rest)), digits)))
        return _join(shown + [text for text, _ in always]), order[:top]
    return _join([text for text, _ in parts] + [text for text, _ in always]), None


def _reads(name: str, cells) -> list[Read]:
    return [Read(name, tuple(int(i) for i in c)) for c in cells]


def _all(name: str, array: np.ndarray) -> list[Read]:
    return _reads(name, np.ndindex(np.shape(array)))


def _row(array: np.ndarray, cell: Cell) -> list[Cell]:
    """Every cell of the row that ``cell`` is in."""
    row = tuple(cell[:-1])
    return [row + (k,) for k in range(array.shape[-1])]


class _Builder:
    """The pieces an explanation is made of, for one step and one cell."""

    def __init__(self, iteration: Iteration, step: Step, cell: Cell, digits: int | None, top: int):
        self.iteration, self.step, self.cell, self.digits, self.top = iteration, step, cell, digits, top
        self.names = list(step.inputs)
        self.arrays = [np.asarray(a) for a in step.inputs.values()]
        self.value = float(step.value[cell])
        self.target = label(step.name, cell)

    def num(self, v) -> str:
        return _num(v, self.digits)

    def arg(self, v) -> str:
        return _arg(v, self.digits)

    def sum(self, parts, always=()) -> tuple[str, list[int] | None]:
        return _sum(parts, self.top, self.digits, always)

    def made(self, rhs: str, numbers: str, terms, combine, reads, middle=(), lhs: str | None = None,
             defs=(), note: str = "", why: str = "") -> Explanation:
        """The explanation: ``lhs = rhs``, the definitions under it, ``= numbers``, ``= middle``…, ``= value``."""
        lhs = lhs or self.target
        formula = f"{lhs} = {rhs}"
        pad = " " * (len(lhs) + 1)
        result = self.num(self.value)
        if not np.isfinite(self.value):
            note = (note + " " if note else "") + TEXT["not_finite"]
        steps = []
        for line in (numbers, *middle):  # a line that says nothing new is left out
            if line not in steps and line.strip("()") != result:
                steps.append(line)
        lines = (formula,) + tuple(f"{pad}  {d}" for d in defs) + tuple(f"{pad}= {m}" for m in steps) + \
            (f"{pad}= {result}",) + ((note,) if note else ())
        return Explanation(self.step, self.cell, self.value, formula, "= " + numbers,
                           tuple(t if isinstance(t, Term) else Term(t[0], float(t[1])) for t in terms), combine,
                           tuple(reads), lines, note, why)

    def largest(self, shown: list[int] | None, index: str, name=str) -> tuple[str, ...]:
        """The line naming which terms a shortened sum shows."""
        if shown is None:
            return ()
        return (TEXT["largest"].format(k=len(shown), index=index, which=", ".join(name(i) for i in shown)),)

    def grad_lhs(self) -> str:
        """``grad_W1[1,2] = ∂E/∂W1[1,2]``; ``delta1[0,2] = ∂E/∂u1[0,2]``."""
        s = self.step
        wrt = names.u(s.layer) if s.kind == "delta" else names.param(s.param, s.layer)
        return f"{self.target} = " + TEXT["partial"].format(name=label(wrt, self.cell))

    # --- forward --------------------------------------------------------------------------------------

    def affine(self) -> Explanation:
        (zn, Wn, bn), (z, W, b) = self.names, self.arrays
        *row, j = self.cell
        row = tuple(row)
        n = W.shape[0]
        products = [(f"{label(zn, row + (i,))}·{label(Wn, (i, j))}", float(z[row + (i,)] * W[i, j])) for i in range(n)]
        bias = (label(bn, (j,)), float(b[j]))
        numbers = [(f"{self.arg(z[row + (i,)])}·{self.arg(W[i, j])}", products[i][1]) for i in range(n)]
        if n <= 4:
            rhs = _join([p for p, _ in products] + [bias[0]])
        else:
            rhs = f"Σᵢ {zn}{_index(row, 'i')}·{Wn}[i,{j}] + {bias[0]}  (i = 0…{n - 1})"
        expansion, shown = self.sum(numbers, [(self.arg(b[j]), bias[1])])
        middle = () if shown is not None else (_join([self.arg(v) for _, v in products] + [self.arg(b[j])]),)
        reads = _reads(zn, [row + (i,) for i in range(n)]) + _reads(Wn, [(i, j) for i in range(n)]) + [Read(bn, (j,))]
        return self.made(rhs, expansion, products + [bias], "sum", reads, middle, defs=self.largest(shown, "i", str))

    def activation(self) -> Explanation:
        act = ACTIVATIONS[self.step.activation]
        (un,), (u,) = self.names, self.arrays
        if act.rowwise:
            return self.softmax(act, un, u)
        c = self.cell
        rhs = act.text("entry", u=label(un, c))
        numbers = _plug(act.TEXT["entry"], self.digits, u=float(u[c]))
        return self.made(rhs, numbers, [(rhs, self.value)], "product", [Read(un, c)])

    def softmax(self, act: Activation, un: str, u: np.ndarray) -> Explanation:
        *row, j = self.cell
        row = tuple(row)
        m = float(np.max(u[row]))
        e = np.exp(u[row] - m)
        total = np.sum(e)
        row_label = f"{un}{_index(row, 'k')}"
        rhs = act.text("entry", u=label(un, self.cell), row=row_label)
        numbers = act.text("entry", u=self.arg(u[self.cell]), row=row_label).replace(" − m", f" − {self.arg(m)}")
        terms = [(act.text("entry_exp", u=label(un, self.cell)), float(e[j])),
                 (act.text("entry_sum", row=row_label), float(1.0 / total))]
        exps, _ = self.sum([(f"exp({self.arg(u[row + (k,)])} − {self.arg(m)})", float(e[k])) for k in range(e.size)])
        defs = (act.text("entry_max", row=row_label, m=self.num(m)),
                TEXT["softmax_sum"].format(row=row_label, terms=exps, total=self.num(total)))
        return self.made(rhs, numbers, terms, "product", _reads(un, _row(u, self.cell)),
                         (f"{self.num(e[j])} / {self.num(total)}",), defs=defs)

    # --- the loss ---------------------------------------------------------------------------------------

    def loss(self) -> Explanation:
        fn = LOSSES[self.step.loss]
        arrays = dict(zip(self.names, self.arrays))
        y, d = arrays["y"], arrays["d"]
        un = names.u(len(self.iteration.layers))
        u = arrays.get(un)
        parts = fn.contributions(u, y, d)
        n, N = y.size, batch_size(y)
        sizes = {"n": n, "N": N, "m": 2 * n}
        terms, numbers, cells, zeros = [], [], [], 0
        every = not np.any(parts)  # a loss of 0 shows its terms, all of them 0
        for c in np.ndindex(y.shape):
            if parts[c] == 0 and not every:
                zeros += 1
                continue
            cells.append(c)
            terms.append((fn.text("term", y=label("y", c), d=label("d", c), **sizes), float(parts[c])))
            numbers.append((fn.text("term", y=self.arg(y[c]), d=self.arg(d[c]), **sizes), float(parts[c])))
        role = {"y": ("y", y), "d": ("d", d), "u": (un, u)}
        reads = [r for key in fn.term_reads for r in _all(*role[key])]
        rhs = fn.text("entry", **sizes).split(" = ", 1)[1]
        expansion, shown = self.sum(numbers)
        middle = () if shown is not None or len(terms) < 2 else (_join(self.arg(v) for _, v in terms),)
        defs = [fn.text("entry_def", u=un, **sizes)]
        if zeros:
            defs.append(TEXT["zeros"].format(n=zeros, total=y.size, are="is" if zeros == 1 else "are"))
        if shown is not None:
            defs.append(TEXT["largest_cells"].format(k=len(shown), which=", ".join(label("y", cells[i]) for i in shown)))
        return self.made(rhs, expansion, terms, "sum", reads, middle, defs=defs, why=self.step.note)

    # --- backward ---------------------------------------------------------------------------------------

    def delta(self) -> Explanation:
        return self.output_delta() if self.step.loss is not None else self.hidden_delta()

    def output_delta(self) -> Explanation:
        fn, act = LOSSES[self.step.loss], ACTIVATIONS[self.step.activation]
        arrays = dict(zip(self.names, self.arrays))
        y, d = arrays["y"], arrays["d"]
        un = names.u(self.step.layer)
        u = arrays.get(un)
        c = self.cell
        yl, dl = label("y", c), label("d", c)
        lhs = self.grad_lhs()
        why = fn.delta_note(act, y, self.step.layer)
        if fn.requires is not None:  # the loss's own activation: its slope cancels, dE/du = (y − d) / N
            N = fn.divisor(y)
            rhs = fn.text("delta_entry", y=yl, d=dl, n=N, N=N)
            numbers = fn.text("delta_entry", y=self.arg(y[c]), d=self.arg(d[c]), n=N, N=N)
            terms = [(f"{yl} − {dl}", float(y[c] - d[c])), (f"1 / {N}", 1.0 / N)]
            return self.made(rhs, numbers, terms, "product", [Read("y", c), Read("d", c)], lhs=lhs, why=why)
        g = (y - d) / y.size  # as the loss's delta computes it
        if act.rowwise:
            return self.softmax_back(act, lhs, "y", y, g, _reads("y", _row(y, c)) + _reads("d", _row(d, c)),
                                     TEXT["softmax_g"].format(n=y.size), why=why)
        first = fn.text("delta_entry", y=yl, d=dl, n=y.size)
        first_numbers = fn.text("delta_entry", y=self.arg(y[c]), d=self.arg(d[c]), n=y.size)
        reads = [Read("y", c), Read("d", c)]
        if act.backward_reads is None:
            return self.made(first, first_numbers, [(first, float(g[c]))], "product", reads, lhs=lhs, why=why)
        slope = act.slopes(u, y, y.shape)
        at = label(un, c)
        if act.backward_reads == "u":
            reads.append(Read(un, c))
        rhs = f"{first} · {act.name}'({at})"
        slope_numbers = _plug(act.TEXT["slope"], self.digits, u=float(u[c]) if u is not None else 0.0,
                              z=float(y[c]))
        terms = [(first, float(g[c])), (f"{act.name}'({at})", float(slope[c]))]
        defs = (TEXT["slope"].format(name=act.name, u=at, slope=act.text("slope", u=at, z=yl)),)
        return self.made(rhs, f"{first_numbers} · {slope_numbers}", terms, "product", reads,
                         (f"{self.arg(g[c])} · {self.arg(slope[c])}",), lhs=lhs, defs=defs, why=why)

    def hidden_delta(self) -> Explanation:
        act = ACTIVATIONS[self.step.activation]
        an, Wn = self.names[:2]
        above, W = self.arrays[:2]
        third = (self.names[2], self.arrays[2]) if len(self.names) > 2 else (None, None)
        *row, j = self.cell
        row = tuple(row)
        lhs = self.grad_lhs()
        back_all = np.dot(above, W.T)  # as the straight run computes it: the very numbers it multiplied
        if act.rowwise:
            reads = _reads(an, _row(above, self.cell)) + _all(Wn, W) + _reads(third[0], _row(third[1], self.cell))
            return self.softmax_back(act, lhs, third[0], third[1], back_all, reads,
                                     TEXT["softmax_back_g"].format(above=an, W=Wn, z=third[0]))
        K = above.shape[-1]
        u = third[1] if act.backward_reads == "u" else None
        z = third[1] if act.backward_reads == "z" else None
        slope = float(act.slopes(u, z, self.step.value.shape)[self.cell]) if act.backward_reads is not None else 1.0
        at = label(names.u(self.step.layer), self.cell)
        s_label = "" if act.backward_reads is None else f"·{act.name}'({at})"
        products = [float(above[row + (k,)] * W[j, k]) for k in range(K)]
        terms = [Term(f"{label(an, row + (k,))}·{label(Wn, (j, k))}{s_label}", p * slope, Read(an, row + (k,)))
                 for k, p in enumerate(products)]
        back = _join(f"{label(an, row + (k,))}·{label(Wn, (j, k))}" for k in range(K)) if K <= 4 else \
            TEXT["hidden_sum"].format(above=an, k=",".join([str(i) for i in row] + ["k"]), W=Wn, j=j)
        inner, shown = self.sum([(f"{self.arg(above[row + (k,)])}·{self.arg(W[j, k])}", products[k])
                                 for k in range(K)])
        total = float(back_all[self.cell])
        reads = _reads(an, [row + (k,) for k in range(K)]) + _reads(Wn, [(j, k) for k in range(K)])
        defs = self.largest(shown, "k", str)
        if act.backward_reads is None:
            return self.made(back, inner, terms, "sum", reads, (self.num(total),), lhs=lhs, defs=defs)
        reads.append(Read(third[0], self.cell))
        v = float(third[1][self.cell])
        slope_numbers = _plug(act.TEXT["slope"], self.digits, u=v, z=v)
        rhs = f"({back}) · {act.name}'({at})"
        defs = (TEXT["slope"].format(name=act.name, u=at, slope=act.text("slope", u=at, z=label(third[0], self.cell))),
                *defs)
        note = TEXT["blocked"].format(name=act.name, u=at) if slope == 0 else ""
        return self.made(rhs, f"({inner}) · {slope_numbers}", terms, "sum", reads,
                         (f"{self.arg(total)} · {self.arg(slope)}",), lhs=lhs, defs=defs, note=note)

    def softmax_back(self, act: Activation, lhs: str, zn: str, z: np.ndarray, g: np.ndarray, reads: list[Read],
                     g_line: str, why: str = "") -> Explanation:
        """One entry of softmax's backward pass as its code computes it: z_j·(g_j − s), s = Σₘ g_m·z_m.

        ``g`` is dE/dz for the whole array, computed as the straight run computes it, so the factors are
        the very numbers the step multiplied."""
        *row, j = self.cell
        row = tuple(row)
        s_value = float(np.sum(g * z, axis=-1)[row])
        g_row, z_row = g[row], z[row]
        zj, gj = label(zn, self.cell), label("g", self.cell)
        rhs = act.text("back_entry", zj=zj, gj=gj)
        numbers = act.text("back_entry", zj=self.arg(z_row[j]), gj=self.arg(g_row[j])).replace(
            "s)", f"{self.arg(s_value)})")
        products, _ = self.sum([(f"{self.arg(g_row[m])}·{self.arg(z_row[m])}", float(g_row[m] * z_row[m]))
                                for m in range(z_row.shape[-1])])
        s_line = act.text("back_s", g="g" + _index(row, "m"), zm=zn + _index(row, "m")) + \
            f" = {products} = {self.num(s_value)}"
        factor = float(g_row[j] - s_value)
        terms = [(zj, float(z_row[j])), (act.text("back_factor", gj=gj), factor)]
        return self.made(rhs, numbers, terms, "product", reads, (f"{self.arg(z_row[j])} · {self.arg(factor)}",),
                         lhs=lhs, defs=(g_line, s_line), why=why)

    def grad_W(self) -> Explanation:
        (pn, dn), (p, dl) = self.names, self.arrays
        i, j = self.cell
        lhs = self.grad_lhs()
        if dl.ndim == 1:
            rhs = f"{label(pn, (i,))}·{label(dn, (j,))}"
            terms = [Term(rhs, float(p[i] * dl[j]), Read(dn, (j,)))]
            return self.made(rhs, f"{self.arg(p[i])}·{self.arg(dl[j])}", terms, "sum",
                             [Read(pn, (i,)), Read(dn, (j,))], lhs=lhs)
        rows = dl.shape[0]
        terms = [Term(f"{label(pn, (r, i))}·{label(dn, (r, j))}", float(p[r, i] * dl[r, j]), Read(dn, (r, j)))
                 for r in range(rows)]
        numbers = [(f"{self.arg(p[r, i])}·{self.arg(dl[r, j])}", terms[r].value) for r in range(rows)]
        rhs = _join(t.label for t in terms) if rows <= 3 else f"Σₙ {pn}[n,{i}]·{dn}[n,{j}]  (n = 0…{rows - 1})"
        reads = _reads(pn, [(r, i) for r in range(rows)]) + _reads(dn, [(r, j) for r in range(rows)])
        expansion, shown = self.sum(numbers)
        middle = () if shown is not None or rows < 2 else (_join(self.arg(t.value) for t in terms),)
        return self.made(rhs, expansion, terms, "sum", reads, middle, lhs=lhs, defs=self.largest(shown, "n", str))

    def grad_b(self) -> Explanation:
        (dn,), (dl,) = self.names, self.arrays
        (j,) = self.cell
        lhs = self.grad_lhs()
        if dl.ndim == 1:
            return self.made(label(dn, (j,)), self.num(dl[j]), [Term(label(dn, (j,)), float(dl[j]), Read(dn, (j,)))],
                             "sum", [Read(dn, (j,))], lhs=lhs)
        rows = dl.shape[0]
        terms = [Term(label(dn, (r, j)), float(dl[r, j]), Read(dn, (r, j))) for r in range(rows)]
        rhs = _join(t.label for t in terms) if rows <= 3 else f"Σₙ {dn}[n,{j}]  (n = 0…{rows - 1})"
        expansion, shown = self.sum([(self.arg(t.value), t.value) for t in terms])
        return self.made(rhs, expansion, terms, "sum", _reads(dn, [(r, j) for r in range(rows)]), lhs=lhs,
                         defs=self.largest(shown, "n", str))

    def update(self) -> Explanation:
        (pn, gn, ln), (p, g, lr) = self.names, self.arrays
        c = self.cell
        before = TEXT["before"].format(cell=label(pn, c))
        rhs = f"{before} − learning_rate·{label(gn, c)}"
        numbers = f"{self.num(p[c])} − {self.num(lr)}·{self.arg(g[c])}"
        terms = [Term(before, float(p[c])),
                 Term(TEXT["learning_rate"].format(grad=label(gn, c)), float(-lr * g[c]), Read(gn, c))]
        return self.made(rhs, numbers, terms, "sum", [Read(pn, c), Read(gn, c), Read(ln, ())],
                         (f"{self.num(p[c])} − {self.arg(lr * g[c])}",),
                         lhs=TEXT["after"].format(cell=label(pn, c)))


def _with_lines(e: Explanation, lines: tuple[str, ...]) -> Explanation:
    return Explanation(e.step, e.cell, e.value, e.formula, e.expansion, e.terms, e.combine, e.reads, lines, e.note,
                       e.why)


def _ranges(shape) -> str:
    """``i from 0 to 1, j from 0 to 2``."""
    return ", ".join(f"{'ij'[k] if len(shape) == 2 else 'i'} from 0 to {n - 1}" for k, n in enumerate(shape))


def cell_error(step: Step, cell: Cell) -> str | None:
    """Why ``cell`` is not an index of the step's array (with the valid range), or None."""
    shape = step.value.shape
    if len(cell) != len(shape):
        what = TEXT["scalar"] if not shape else f"{shape_label(step.value)}"
        need = TEXT["rank_need_0"] if not shape else \
            TEXT["rank_need"].format(k=len(shape), es="" if len(shape) == 1 else "es", ranges=_ranges(shape))
        return TEXT["bad_rank"].format(name=step.name, what=what, need=need, found=",".join(map(str, cell)) or "none")
    if any(not 0 <= i < n for i, n in zip(cell, shape)):
        return TEXT["bad_range"].format(cell=",".join(map(str, cell)), name=step.name,
                                        shape=shape_label(step.value), ranges=_ranges(shape))
    return None


def parse_cell(text: str) -> Cell:
    """``"0,3"``, ``"0, 3"``, ``"[0,3]"`` → ``(0, 3)``; ``""`` → ``()``."""
    text = text.strip().strip("[]()").strip()
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", ",").split(",") if part)
    except ValueError:
        raise ExplainError(TEXT["bad_cell_text"].format(text=text, example="0,3")) from None


def step_names(iteration: Iteration) -> list[str]:
    """What each step can be asked for by: the array it produces, ``update:W1`` for an update."""
    return [f"update:{s.name}" if s.kind == "update" else s.name for s in iteration.steps]


def find_step(iteration: Iteration, text: str) -> Step:
    """The step named by its number (counted from 1) or by the array it produces (in any case, with
    spaces or not: ``update: W1``)."""
    steps, total = iteration.steps, len(iteration.steps)
    text = text.strip()
    if text.lstrip("-").isdigit():
        n = int(text)
        if not 1 <= n <= total:
            raise ExplainError(TEXT["bad_step_number"].format(n=n, total=total))
        return steps[n - 1]
    known = step_names(iteration)
    if text in known:
        return steps[known.index(text)]
    folded = [name.lower() for name in known]
    key = text.replace(" ", "").lower()
    if folded.count(key) == 1:
        return steps[folded.index(key)]
    close = [f"update:{key}"] if f"update:{key}" in folded else difflib.get_close_matches(key, folded, n=1, cutoff=0.5)
    hint = TEXT["did_you_mean"].format(name=known[folded.index(close[0])]) if close else ""
    last = len(iteration.layers)
    if key == names.z(last, last + 1).lower():  # z2 of a 2-layer network
        hint = TEXT["output_is_y"]
    elif not any(s.phase == "loss" for s in steps) and not hint:
        hint = TEXT["forward_only"]
    raise ExplainError(TEXT["bad_step_name"].format(text=text, hint=hint, total=total, valid=", ".join(known)))


def split_step(text: str) -> tuple[str, str | None]:
    """``grad_W1[0,1]`` → (``grad_W1``, ``0,1``): the index the app and ``explain`` itself print."""
    text = text.strip()
    if text.endswith("]") and "[" in text:
        name, _, rest = text.partition("[")
        return name, rest[:-1]
    return text, None


def explain(iteration: Iteration, step: Step, cell: Cell, digits: int | None = None, top: int = 8) -> Explanation:
    """Explain entry ``cell`` of ``step``; ``digits`` significant digits for the plugged-in numbers (None:
    every digit), and a long sum shows its ``top`` largest terms and the total of the rest."""
    problem = cell_error(step, tuple(cell))
    if problem:
        raise ExplainError(problem)
    b = _Builder(iteration, step, tuple(int(i) for i in cell), digits, top)
    with np.errstate(all="ignore"):  # a diverged run explains its inf and nan, without warnings
        return {"affine": b.affine, "activation": b.activation, "loss": b.loss, "delta": b.delta,
                "grad_W": b.grad_W, "grad_b": b.grad_b, "update": b.update}[step.kind]()


@dataclass(frozen=True)
class Level:
    """The cells of one array that a chain shows: the largest of those the cell below depends on."""

    array: str
    links: tuple[Explanation, ...]
    #: How many cells of the array the chain depends on but does not show.
    omitted: int


def chain_levels(iteration: Iteration, step: Step, cell: Cell, digits: int | None = None, per_level: int = 4,
                 top: int = 8) -> tuple[Level, ...]:
    """The chain from the loss down to a delta, gradient or update cell, as levels: the loss, the output
    delta's cells the cell depends on, each delta below, …, the cell's own step. Each level shows at most
    ``per_level`` cells (the largest by size) and counts the rest. A forward step has no chain."""
    if step.phase in ("forward", "loss"):
        return ()
    backward = {s.name: s for s in iteration.steps if s.phase == "backward"}
    own = explain(iteration, step, cell, digits, top)
    levels = [Level(step.name, (own,), 0)]
    needed = {tuple(cell)}
    current = step
    while True:
        # What every needed cell of this level reads of the next backward array. A hidden delta's cells of
        # one row read the same cells of the delta above, so one cell per row stands for its row.
        stand_ins = {c[:-1]: c for c in needed}.values() if current.kind == "delta" else needed
        reads = [r for c in stand_ins for r in explain(iteration, current, c, None, 1).reads if r.array in backward]
        if not reads:
            break
        below = backward[reads[0].array]
        needed = set(r.cell for r in reads)
        # The cells that carry the most into the cells shown above come first (then the largest).
        carried: dict[Cell, float] = {}
        for link in levels[-1].links:
            for term in link.terms:
                if term.via is not None and term.via.array == below.name:
                    carried[term.via.cell] = carried.get(term.via.cell, 0.0) + abs(term.value)
        ranked = sorted(needed, key=lambda c: (-carried.get(c, 0.0), -abs(float(below.value[c])), c))
        shown = tuple(explain(iteration, below, c, digits, top) for c in ranked[:per_level])
        levels.append(Level(below.name, shown, len(ranked) - len(shown)))
        current = below
    loss = next((s for s in iteration.steps if s.kind == "loss"), None)
    if loss is not None:
        levels.append(Level(loss.name, (explain(iteration, loss, (), digits, top),), 0))
    return tuple(reversed(levels))


def chain(iteration: Iteration, step: Step, cell: Cell, digits: int | None = None, per_level: int = 4,
          top: int = 8) -> tuple[Explanation, ...]:
    """The chain's links from the loss down to the cell, loss first; a level that leaves cells out says so
    on its last link's last line. A forward step has none."""
    links: list[Explanation] = []
    for level in chain_levels(iteration, step, cell, digits, per_level, top):
        links.extend(level.links)
        if level.omitted:
            last = links[-1]
            links[-1] = _with_lines(last, last.lines + (TEXT["chain_more"].format(n=level.omitted, name=level.array),))
    return tuple(links)


# --- the command line ------------------------------------------------------------------------------------


def as_json(e: Explanation) -> dict:
    from nnstep.engine.formats import json_number

    s = e.step
    return {"step": {"index": s.index, "iteration": s.iteration, "phase": s.phase, "kind": s.kind, "name": s.name},
            "cell": list(e.cell), "value": json_number(e.value), "formula": e.formula, "expansion": e.expansion,
            "combine": e.combine, "terms": [{"label": t.label, "value": json_number(t.value)} for t in e.terms],
            "reads": [{"array": r.array, "cell": list(r.cell)} for r in e.reads], "lines": list(e.lines),
            "note": e.note, "why": e.why}


def reads_text(e: Explanation, limit: int = 6) -> str:
    """``reads z1[0,0], z1[0,1], W2[0,3] …``, each array's cells listed up to ``limit``, then counted."""
    groups: dict[str, list[Cell]] = {}
    for r in e.reads:
        groups.setdefault(r.array, []).append(r.cell)
    parts = []
    for name, cells in groups.items():
        if len(cells) <= limit:
            parts.append(", ".join(label(name, c) for c in cells))
        else:
            parts.append(TEXT["cells"].format(n=len(cells), name=name))
    return f"{TEXT['reads']} " + "; ".join(parts)


def report(iteration: Iteration, step_text: str, cell_text: str, with_chain: bool = False,
           fmt: str = "text", width: int = 100) -> str:
    """``nnstep explain``'s output, its text lines wrapped to ``width``; a STEP or CELL that names nothing
    raises :class:`ExplainError`. The cell may come with the step, as the app writes it: ``grad_W1[0,1]``."""
    import json

    name, inline = split_step(step_text)
    if inline is not None and cell_text.strip():
        raise ExplainError(TEXT["bad_cell_text"].format(text=f"{step_text} {cell_text}", example="grad_W1 0,1"))
    step = find_step(iteration, name)
    e = explain(iteration, step, parse_cell(cell_text if inline is None else inline))
    levels = chain_levels(iteration, step, e.cell) if with_chain else ()
    if fmt == "json":
        out = as_json(e)
        out["batch_row"] = batch_row(iteration, e)
        if with_chain:
            out["chain"] = [dict(as_json(link), level=level.array) for level in levels for link in level.links]
            out["chain_omitted"] = [{"array": level.array, "shown": len(level.links), "omitted": level.omitted}
                                    for level in levels]
            if not levels:
                out["chain_note"] = TEXT["no_chain"].format(name=step.name)
        return json.dumps(out, ensure_ascii=False, indent=1) + "\n"
    prose = [heading(iteration, step), ""]
    lines = _wrapped(e, width) + (_prose(e.why, width) if e.why else []) + [""] + _prose(reads_text(e), width)
    row = batch_row(iteration, e)
    if row is not None:
        lines += _prose(TEXT["batch_row"].format(row=row[0], sample=row[1]), width)
    if with_chain:
        lines.append("")
        if not levels:
            lines += _prose(TEXT["no_chain"].format(name=step.name), width)
        else:
            lines += _prose(TEXT["chain"].format(cell=label(step.name, e.cell)), width)
            for level in levels:
                for link in level.links:
                    lines += [""] + _wrapped(link, width)
                if level.links[-1].why and level.array != step.name:  # once for the level's cells
                    lines += _prose(level.links[-1].why, width)
                if level.omitted:
                    lines += _prose(TEXT["chain_more"].format(n=level.omitted, name=level.array), width)
    return "\n".join(_prose(prose[0], width) + prose[1:] + lines) + "\n"


def _prose(text: str, width: int) -> list[str]:
    from nnstep.engine.formats import wrap as wrap_prose

    return wrap_prose(text, width) or [""]


def _wrapped(e: Explanation, width: int) -> list[str]:
    """An explanation's lines for a terminal ``width`` wide: its maths broken between terms, its
    sentences (the note, a chain's count of cells left out) as prose."""
    out: list[str] = []
    for line in e.lines:
        out += _prose(line, width) if line == e.note or line.startswith("… ") else wrap(line, width)
    return out


def heading(iteration: Iteration, step: Step) -> str:
    """``iteration 537/1000 · step 1/15 · forward · layer 1 · u1 = x·W1 + b1`` (no iteration for a plain run)."""
    where = f"layer {step.layer}" if step.layer is not None else "output"
    training = iteration.scenario.training
    head = f"iteration {iteration.number}/{training.iterations} · " if training else ""
    return head + f"step {step.index + 1}/{len(iteration.steps)} · {step.phase} · {where} · {step.formula}"


def batch_row(iteration: Iteration, e: Explanation) -> tuple[int, int] | None:
    """For a cell of a batch drawn from a training set: (its batch row, the training sample it is)."""
    rows = iteration.rows
    if rows is None or len(e.cell) < 2 or e.step.value.ndim < 2 or e.step.kind in ("grad_W", "update") \
            or e.step.kind == "grad_b":
        return None
    return e.cell[0], rows[e.cell[0]]


def wrap(line: str, width: int) -> list[str]:
    """A long line broken before ``+``, ``−`` or ``·`` between terms, continued under its ``=``."""
    if len(line) <= width or width < 20:
        return [line]
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    at = stripped.rfind("= ", 0, width // 2)  # under the right-hand side: ``delta1[2] = ∂E/∂u1[2] = (…``
    hang = " " * (indent + (at + 2 if at >= 0 else 2))
    out, current = [], line
    while len(current) > width:
        cut = max(current.rfind(sep, len(hang) + 1, width) for sep in (" + ", " − ", " · ", " = ", ", ", "; "))
        if cut <= len(hang):
            cut = current.rfind(" ", len(hang) + 1, width)
        if cut <= len(hang):
            break
        out.append(current[:cut])
        current = hang + current[cut + 1:]
    out.append(current)
    return out
