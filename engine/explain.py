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
    "zeros": "({n} of the {total} terms {are} 0 and left out)",
    "row": "the whole row {row} of {name}",
    "partial": "∂E/∂{name}",
    "reads": "reads",
    "cells": "{n} cells of {name}",
    "chain": "The chain from the loss down to {cell}:",
    "chain_more": "… and {n} more cells of {name}, each explained the same way",
    "no_chain": "{name} is computed going forward; the chain of derivatives starts at the loss.",
    "slope": "{name}'({u}) = {slope}",
    "softmax_g": "g = (y − d) / {n}",
    "softmax_back_g": "g = {above}·{W}ᵀ",
    "hidden_sum": "Σₖ {above}[{k}]·{W}[{j},k]",
    "update_before": "{cell} before",
    "learning_rate": "−learning_rate·{grad}",
    # Errors, each with the valid range.
    "bad_cell_text": "CELL '{text}' is not an index: expected whole numbers separated by commas, e.g. {example}",
    "bad_rank": "{name} is {what}, so CELL needs {need}, found {found}",
    "bad_range": "CELL {cell} is outside {name} (shape {shape}): {ranges}",
    "scalar": "a number (the loss)",
    "rank_need_0": "no index (leave CELL empty)",
    "rank_need": "{k} index{es} ({example})",
    "bad_step_number": "STEP {n} is outside this iteration: its steps are 1 to {total}",
    "bad_step_name": "no step produces '{text}'{hint}; the steps are 1 to {total}, or {valid}",
    "did_you_mean": " (did you mean '{name}'?)",
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
    #: What to show, in order: the formula, the numbers, any intermediate line, then ``= value``.
    lines: tuple[str, ...]


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


def _sum(parts: list[tuple[str, float]], top: int, digits: int | None, always: list[tuple[str, float]] = ()) -> str:
    """``a + b + c``, or the ``top`` largest by size and ``(N more terms: total)``; ``always`` at the end."""
    if len(parts) > top + 1:
        order = sorted(range(len(parts)), key=lambda i: -abs(parts[i][1]))
        shown = [parts[i][0] for i in order[:top]]
        rest = [parts[i][1] for i in order[top:]]
        shown.append(TEXT["more"].format(n=len(rest), total=_num(float(np.sum(rest)), digits)))
    else:
        shown = [text for text, _ in parts]
    return " + ".join(shown + [text for text, _ in always])


def _reads(name: str, cells) -> list[Read]:
    return [Read(name, tuple(int(i) for i in c)) for c in cells]


def _all(name: str, array: np.ndarray) -> list[Read]:
    return _reads(name, np.ndindex(np.shape(array)))


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

    def made(self, rhs: str, numbers: str, terms, combine, reads, middle: tuple[str, ...] = (),
             lhs: str | None = None) -> Explanation:
        formula = f"{lhs or self.target} = {rhs}"
        pad = " " * (len(lhs or self.target) + 1)
        result = self.num(self.value)
        steps = list(dict.fromkeys([numbers, *middle]))  # a line that says nothing new is left out
        lines = (formula,) + tuple(f"{pad}= {m}" for m in steps if m != result) + (f"{pad}= {result}",)
        return Explanation(self.step, self.cell, self.value, formula, "= " + numbers,
                           tuple(Term(t, float(v)) for t, v in terms), combine, tuple(reads), lines)

    def grad_lhs(self) -> str:
        """``grad_W1[1,2] = ∂E/∂W1[1,2]``; ``delta1[0,2] = ∂E/∂u1[0,2]``."""
        s = self.step
        if s.kind == "delta":
            wrt = names.u(s.layer)
        else:
            wrt = names.param(s.param, s.layer)
        return f"{self.target} = " + TEXT["partial"].format(name=label(wrt, self.cell))

    # --- forward --------------------------------------------------------------------------------------

    def affine(self) -> Explanation:
        (zn, Wn, bn), (z, W, b) = self.names, self.arrays
        *row, j = self.cell
        row = tuple(row)
        n = W.shape[0]
        products = [(f"{label(zn, row + (i,))}·{label(Wn, (i, j))}", float(z[row + (i,)] * W[i, j])) for i in range(n)]
        bias = (label(bn, (j,)), float(b[j]))
        numbers = [(f"{self.num(z[row + (i,)])}·{self.arg(W[i, j])}", products[i][1]) for i in range(n)]
        if n <= 4:
            rhs = " + ".join([p for p, _ in products] + [bias[0]])
        else:
            rhs = f"Σᵢ {zn}{_index(row, 'i')}·{Wn}[i,{j}] + {bias[0]}  (i = 0…{n - 1})"
        expansion = _sum(numbers, self.top, self.digits, [(self.arg(b[j]), bias[1])])
        middle = () if n > self.top + 1 else \
            (" + ".join([self.num(v) for _, v in products] + [self.arg(b[j])]),)
        reads = _reads(zn, [row + (i,) for i in range(n)]) + _reads(Wn, [(i, j) for i in range(n)]) + [Read(bn, (j,))]
        return self.made(rhs, expansion, products + [bias], "sum", reads, middle)

    def activation(self) -> Explanation:
        act = ACTIVATIONS[self.step.activation]
        (un,), (u,) = self.names, self.arrays
        if act.rowwise:
            return self.softmax(act, un, u)
        c = self.cell
        rhs = act.text("entry", u=label(un, c))
        numbers = act.text("entry", u=self.arg(u[c]))
        return self.made(rhs, numbers, [(rhs, self.value)], "product", [Read(un, c)])

    def softmax(self, act: Activation, un: str, u: np.ndarray) -> Explanation:
        *row, j = self.cell
        row = tuple(row)
        shifted = u[row] - np.max(u[row])
        e = np.exp(shifted)
        total = np.sum(e)
        row_label = f"{un}{_index(row, 'k')}"
        rhs = act.text("entry", u=label(un, self.cell), row=row_label)
        m = float(np.max(u[row]))
        numbers = act.text("entry", u=self.arg(u[self.cell]), row=row_label).replace(" − m", f" − {self.arg(m)}")
        terms = [(act.text("entry_exp", u=label(un, self.cell)), float(e[j])),
                 (act.text("entry_sum", row=row_label), float(1.0 / total))]
        middle = (f"{self.num(e[j])} / {self.num(total)}",)
        explanation = self.made(rhs, numbers, terms, "product", _reads(un, [row + (k,) for k in range(u.shape[-1])]),
                                middle)
        note = act.text("entry_max", row=label(un, row) if row else un, m=self.num(m))
        return _with_lines(explanation, explanation.lines[:1] + (" " * (len(self.target) + 3) + note,)
                           + explanation.lines[1:])

    # --- the loss ---------------------------------------------------------------------------------------

    def loss(self) -> Explanation:
        fn = LOSSES[self.step.loss]
        arrays = dict(zip(self.names, self.arrays))
        y, d = arrays["y"], arrays["d"]
        last = len(self.iteration.layers)
        u = arrays.get(names.u(last))
        parts = fn.contributions(u, y, d)
        n, N = y.size, batch_size(y)
        sizes = {"n": n, "N": N, "m": 2 * n}
        terms, numbers, zeros = [], [], 0
        every = not np.any(parts)  # a loss of 0 shows its terms, all of them 0
        for c in np.ndindex(y.shape):
            if parts[c] == 0 and not every:
                zeros += 1
                continue
            terms.append((fn.text("term", y=label("y", c), d=label("d", c), **sizes), float(parts[c])))
            numbers.append((fn.text("term", y=self.arg(y[c]), d=self.arg(d[c]), **sizes), float(parts[c])))
        role = {"y": ("y", y), "d": ("d", d), "u": (names.u(last), u)}
        reads = [r for key in fn.term_reads for r in _all(*role[key])]
        rhs = fn.text("entry", **sizes).split(" = ", 1)[1]
        middle = () if len(terms) > self.top + 1 or not terms else (" + ".join(self.num(v) for _, v in terms),)
        made = self.made(rhs, _sum(numbers, self.top, self.digits), terms, "sum", reads, middle)
        if zeros:
            note = TEXT["zeros"].format(n=zeros, total=y.size, are="is" if zeros == 1 else "are")
            made = _with_lines(made, made.lines[:1] + (" " * (len(self.target) + 3) + note,) + made.lines[1:])
        return made

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
        if fn.requires is not None:  # the loss's own activation: its slope cancels, dE/du = (y − d) / N
            N = fn.divisor(y)
            rhs = fn.text("delta_entry", y=yl, d=dl, n=N, N=N)
            numbers = fn.text("delta_entry", y=self.num(y[c]), d=self.arg(d[c]), n=N, N=N)
            terms = [(f"{yl} − {dl}", float(y[c] - d[c])), (f"1 / {N}", 1.0 / N)]
            return self.made(rhs, numbers, terms, "product", [Read("y", c), Read("d", c)], lhs=lhs)
        g = (y - d) / y.size
        if act.rowwise:
            return self.softmax_back(act, lhs, "y", y, g, _reads("y", _row(y, c)) + _reads("d", _row(d, c)),
                                     TEXT["softmax_g"].format(n=y.size))
        first = fn.text("delta_entry", y=yl, d=dl, n=y.size)
        first_numbers = fn.text("delta_entry", y=self.num(y[c]), d=self.arg(d[c]), n=y.size)
        reads = [Read("y", c), Read("d", c)]
        if act.backward_reads is None:
            return self.made(first, first_numbers, [(first, float(g[c]))], "product", reads, lhs=lhs)
        slope = act.slopes(u, y, y.shape)
        at = label(un, c)
        slope_text = act.text("slope", u=at, z=yl)
        if act.backward_reads == "u":
            reads.append(Read(un, c))
        rhs = f"{first} · {act.name}'({at})"
        numbers = f"{first_numbers} · " + act.text("slope", u=self.arg(u[c]) if u is not None else "", z=self.arg(y[c]))
        terms = [(first, float(g[c])), (TEXT["slope"].format(name=act.name, u=at, slope=slope_text), float(slope[c]))]
        return self.made(rhs, numbers, terms, "product", reads, (f"{self.arg(g[c])} · {self.arg(slope[c])}",), lhs=lhs)

    def hidden_delta(self) -> Explanation:
        act = ACTIVATIONS[self.step.activation]
        an, Wn = self.names[:2]
        above, W = self.arrays[:2]
        third = (self.names[2], self.arrays[2]) if len(self.names) > 2 else (None, None)
        *row, j = self.cell
        row = tuple(row)
        lhs = self.grad_lhs()
        if act.rowwise:
            reads = _reads(an, [row + (k,) for k in range(above.shape[-1])]) + _all(Wn, W) + \
                _reads(third[0], _row(third[1], self.cell))
            return self.softmax_back(act, lhs, third[0], third[1], np.dot(above, W.T), reads,
                                     TEXT["softmax_back_g"].format(above=an, W=Wn))
        K = above.shape[-1]
        u = third[1] if act.backward_reads == "u" else None
        z = third[1] if act.backward_reads == "z" else None
        slope = float(act.slopes(u, z, self.step.value.shape)[self.cell]) if act.backward_reads is not None else 1.0
        at = label(names.u(self.step.layer), self.cell)
        s_label = "" if act.backward_reads is None else f"·{act.name}'({at})"
        products = [float(above[row + (k,)] * W[j, k]) for k in range(K)]
        terms = [(f"{label(an, row + (k,))}·{label(Wn, (j, k))}{s_label}", p * slope) for k, p in enumerate(products)]
        back = " + ".join(f"{label(an, row + (k,))}·{label(Wn, (j, k))}" for k in range(K)) if K <= 4 else \
            TEXT["hidden_sum"].format(above=an, k=",".join([str(i) for i in row] + ["k"]), W=Wn, j=j)
        inner = _sum([(f"{self.arg(above[row + (k,)])}·{self.arg(W[j, k])}", products[k]) for k in range(K)],
                     self.top, self.digits)
        total = float(np.dot(above[row], W[j]))
        reads = _reads(an, [row + (k,) for k in range(K)]) + _reads(Wn, [(j, k) for k in range(K)])
        if act.backward_reads is None:
            return self.made(back, inner, terms, "sum", reads, (self.num(total),) if K > 1 else (), lhs=lhs)
        reads.append(Read(third[0], self.cell))
        slope_words = act.text("slope", u=at, z=label(third[0], self.cell))
        slope_numbers = act.text("slope", u=self.arg(third[1][self.cell]), z=self.arg(third[1][self.cell]))
        rhs = f"({back}) · {act.name}'({at})"
        made = self.made(rhs, f"({inner}) · {slope_numbers}", terms, "sum", reads,
                         (f"{self.arg(total)} · {self.arg(slope)}",), lhs=lhs)
        note = " " * (len(lhs) + 3) + TEXT["slope"].format(name=act.name, u=at, slope=slope_words)
        return _with_lines(made, made.lines[:1] + (note,) + made.lines[1:])

    def softmax_back(self, act: Activation, lhs: str, zn: str, z: np.ndarray, g: np.ndarray, reads: list[Read],
                     g_line: str) -> Explanation:
        """One entry of softmax's backward pass as its code computes it: z_j·(g_j − s), s = Σₘ g_m·z_m.

        ``g`` is dE/dz for the whole array, computed as the straight run computes it, so the factors are
        the very numbers the step multiplied."""
        *row, j = self.cell
        row = tuple(row)
        s_all = np.sum(g * z, axis=-1)
        s_value = float(s_all[row])
        g_row, z_row = g[row], z[row]
        zj, gj = label(zn, self.cell), f"g[{j}]"
        rhs = act.text("back_entry", zj=zj, gj=gj)
        numbers = act.text("back_entry", zj=self.arg(z_row[j]), gj=self.arg(g_row[j])).replace(
            "s)", f"{self.arg(s_value)})")
        products = [(f"{self.arg(g_row[m])}·{self.arg(z_row[m])}", float(g_row[m] * z_row[m]))
                    for m in range(z_row.shape[-1])]
        s_line = act.text("back_s", zm=zn + _index(row, "m")) + " = " + _sum(products, self.top, self.digits) + \
            f" = {self.num(s_value)}"
        factor = float(g_row[j] - s_value)
        terms = [(zj, float(z_row[j])), (act.text("back_factor", gj=gj), factor)]
        made = self.made(rhs, numbers, terms, "product", reads, (f"{self.arg(z_row[j])} · {self.arg(factor)}",),
                         lhs=lhs)
        pad = " " * (len(lhs) + 3)
        return _with_lines(made, made.lines[:1] + (pad + g_line, pad + s_line) + made.lines[1:])

    def grad_W(self) -> Explanation:
        (pn, dn), (p, dl) = self.names, self.arrays
        i, j = self.cell
        lhs = self.grad_lhs()
        if dl.ndim == 1:
            rhs = f"{label(pn, (i,))}·{label(dn, (j,))}"
            terms = [(rhs, float(p[i] * dl[j]))]
            return self.made(rhs, f"{self.num(p[i])}·{self.arg(dl[j])}", terms, "sum",
                             [Read(pn, (i,)), Read(dn, (j,))], lhs=lhs)
        rows = dl.shape[0]
        terms = [(f"{label(pn, (r, i))}·{label(dn, (r, j))}", float(p[r, i] * dl[r, j])) for r in range(rows)]
        numbers = [(f"{self.arg(p[r, i])}·{self.arg(dl[r, j])}", terms[r][1]) for r in range(rows)]
        rhs = " + ".join(t for t, _ in terms) if rows <= 3 else f"Σₙ {pn}[n,{i}]·{dn}[n,{j}]  (n = 0…{rows - 1})"
        reads = _reads(pn, [(r, i) for r in range(rows)]) + _reads(dn, [(r, j) for r in range(rows)])
        middle = () if rows > self.top + 1 else (" + ".join(self.arg(v) for _, v in terms),)
        return self.made(rhs, _sum(numbers, self.top, self.digits), terms, "sum", reads, middle, lhs=lhs)

    def grad_b(self) -> Explanation:
        (dn,), (dl,) = self.names, self.arrays
        (j,) = self.cell
        lhs = self.grad_lhs()
        if dl.ndim == 1:
            return self.made(label(dn, (j,)), self.num(dl[j]), [(label(dn, (j,)), float(dl[j]))], "sum",
                             [Read(dn, (j,))], lhs=lhs)
        rows = dl.shape[0]
        terms = [(label(dn, (r, j)), float(dl[r, j])) for r in range(rows)]
        rhs = " + ".join(t for t, _ in terms) if rows <= 3 else f"Σₙ {dn}[n,{j}]  (n = 0…{rows - 1})"
        numbers = [(self.arg(v), v) for _, v in terms]
        return self.made(rhs, _sum(numbers, self.top, self.digits), terms, "sum",
                         _reads(dn, [(r, j) for r in range(rows)]), lhs=lhs)

    def update(self) -> Explanation:
        (pn, gn, ln), (p, g, lr) = self.names, self.arrays
        c = self.cell
        before = TEXT["update_before"].format(cell=label(pn, c))
        step_term = TEXT["learning_rate"].format(grad=label(gn, c))
        rhs = f"{label(pn, c)} − learning_rate·{label(gn, c)}"
        numbers = f"{self.num(p[c])} − {self.num(lr)}·{self.arg(g[c])}"
        terms = [(before, float(p[c])), (step_term, float(-lr * g[c]))]
        return self.made(rhs, numbers, terms, "sum", [Read(pn, c), Read(gn, c), Read(ln, ())],
                         (f"{self.num(p[c])} + {self.arg(-lr * g[c])}",))


def _row(array: np.ndarray, cell: Cell) -> list[Cell]:
    """Every cell of the row that ``cell`` is in."""
    row = tuple(cell[:-1])
    return [row + (k,) for k in range(array.shape[-1])]


def _with_lines(e: Explanation, lines: tuple[str, ...]) -> Explanation:
    return Explanation(e.step, e.cell, e.value, e.formula, e.expansion, e.terms, e.combine, e.reads, lines)


def cell_error(step: Step, cell: Cell) -> str | None:
    """Why ``cell`` is not an index of the step's array (with the valid range), or None."""
    shape = step.value.shape
    if len(cell) != len(shape):
        what = TEXT["scalar"] if not shape else f"{shape_label(step.value)}"
        need = TEXT["rank_need_0"] if not shape else \
            TEXT["rank_need"].format(k=len(shape), es="" if len(shape) == 1 else "es", example=_example(shape))
        return TEXT["bad_rank"].format(name=step.name, what=what, need=need, found=",".join(map(str, cell)) or "none")
    if any(not 0 <= i < n for i, n in zip(cell, shape)):
        ranges = ", ".join(f"{'ij'[k] if len(shape) == 2 else 'i'} from 0 to {n - 1}" for k, n in enumerate(shape))
        return TEXT["bad_range"].format(cell=",".join(map(str, cell)), name=step.name,
                                        shape=shape_label(step.value), ranges=ranges)
    return None


def _example(shape) -> str:
    return ",".join(str(n - 1) for n in shape)


def parse_cell(text: str) -> Cell:
    """``"0,3"`` → ``(0, 3)``; ``""`` → ``()``."""
    text = text.strip().strip("[]()")
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ExplainError(TEXT["bad_cell_text"].format(text=text, example="0,3")) from None


def step_names(iteration: Iteration) -> list[str]:
    """What each step can be asked for by: the array it produces, ``update:W1`` for an update."""
    return [f"update:{s.name}" if s.kind == "update" else s.name for s in iteration.steps]


def find_step(iteration: Iteration, text: str) -> Step:
    """The step named by its number (counted from 1) or by the array it produces."""
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
    if text.startswith("forward:") or text.startswith("backward:") or text.startswith("loss:"):
        bare = text.split(":", 1)[1]
        for s, name in zip(steps, known):
            if s.name == bare and s.phase == text.split(":", 1)[0] and name == bare:
                return s
    close = [f"update:{text}"] if f"update:{text}" in known else difflib.get_close_matches(text, known, n=1, cutoff=0.5)
    hint = TEXT["did_you_mean"].format(name=close[0]) if close else ""
    raise ExplainError(TEXT["bad_step_name"].format(text=text, hint=hint, total=total, valid=", ".join(known)))


def explain(iteration: Iteration, step: Step, cell: Cell, digits: int | None = None, top: int = 8) -> Explanation:
    """Explain entry ``cell`` of ``step``; ``digits`` significant digits for the plugged-in numbers (None:
    every digit), and a long sum shows its ``top`` largest terms and the total of the rest."""
    problem = cell_error(step, tuple(cell))
    if problem:
        raise ExplainError(problem)
    b = _Builder(iteration, step, tuple(int(i) for i in cell), digits, top)
    return {"affine": b.affine, "activation": b.activation, "loss": b.loss, "delta": b.delta,
            "grad_W": b.grad_W, "grad_b": b.grad_b, "update": b.update}[step.kind]()


def chain(iteration: Iteration, step: Step, cell: Cell, digits: int | None = None, per_level: int = 4,
          top: int = 8) -> tuple[tuple[Explanation, ...], tuple[str, ...]]:
    """The links from the loss down to a delta, gradient or update cell, loss first, and a note per level
    where cells were left out (at most ``per_level`` cells of each delta, the largest). A forward
    step has no chain: both are empty."""
    if step.phase in ("forward", "loss"):
        return (), ()
    by_name = {s.name: s for s in iteration.steps if s.phase == "backward"}
    links: list[Explanation] = [explain(iteration, step, cell, digits, top)]
    notes: list[str] = []
    wanted = links[0]
    while True:
        delta_reads = [r for r in wanted_reads(links, wanted) if r.array in by_name]
        if not delta_reads:
            break
        name = delta_reads[0].array
        below = by_name[name]
        cells = list(dict.fromkeys(r.cell for r in delta_reads))
        cells.sort(key=lambda c: -abs(float(below.value[c])))
        if len(cells) > per_level:
            notes.append(TEXT["chain_more"].format(n=len(cells) - per_level, name=name))
        level = [explain(iteration, below, c, digits, top) for c in cells[:per_level]]
        links.extend(level)
        wanted = level
    loss = next((s for s in iteration.steps if s.kind == "loss"), None)
    if loss is not None:
        links.append(explain(iteration, loss, (), digits, top))
    return tuple(reversed(links)), tuple(reversed(notes))


def wanted_reads(links: list[Explanation], wanted) -> list[Read]:
    """The reads of the last level of links (one explanation or a list of them)."""
    level = wanted if isinstance(wanted, list) else [wanted]
    return [r for e in level for r in e.reads]


# --- the command line ------------------------------------------------------------------------------------


def as_json(e: Explanation) -> dict:
    from nnstep.engine.formats import json_number

    s = e.step
    return {"step": {"index": s.index, "iteration": s.iteration, "phase": s.phase, "kind": s.kind, "name": s.name},
            "cell": list(e.cell), "value": json_number(e.value), "formula": e.formula, "expansion": e.expansion,
            "combine": e.combine, "terms": [{"label": t.label, "value": json_number(t.value)} for t in e.terms],
            "reads": [{"array": r.array, "cell": list(r.cell)} for r in e.reads], "lines": list(e.lines)}


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
           fmt: str = "text") -> str:
    """``nnstep explain``'s output; a STEP or CELL that names nothing raises :class:`ExplainError`."""
    import json

    step = find_step(iteration, step_text)
    e = explain(iteration, step, parse_cell(cell_text))
    links, notes = chain(iteration, step, e.cell) if with_chain else ((), ())
    if fmt == "json":
        out = as_json(e)
        if with_chain:
            out["chain"] = [as_json(link) for link in links]
        return json.dumps(out, ensure_ascii=False, indent=1) + "\n"
    where = f"layer {step.layer}" if step.layer is not None else "output"
    lines = [f"step {step.index + 1}/{len(iteration.steps)} · {step.phase} · {where} · {step.formula}", ""]
    lines += list(e.lines) + ["", reads_text(e)]
    if with_chain:
        lines += ["", TEXT["chain"].format(cell=label(step.name, e.cell))]
        for link in links:
            lines += [""] + list(link.lines)
        lines += notes
    return "\n".join(lines) + "\n"
