"""Op breakdown of the compiled training epoch: what one step of the scan runs, counted from HLO.

    python scripts/hlo_ops.py [--json PATH] [--dump epoch.hlo]

Compiles ``jaxdl.train.lower_epoch`` for the benchmark workload of ``benchlib`` (MLP
784-512-512-10, batch norm, dropout, Adam, batch 128) and reads the optimized HLO text
(``compile().as_text()``). The scan over mini-batches is the ``while`` loop whose body has the
most instructions; each top-level instruction of that body is one kernel per step on XLA:CPU.
Reported: the body's opcode counts (``fusion``, ``dot``, ``copy``, ``transpose``, ...), the
fusions that contain a matmul, every matmul of a step with its result shape and where it sits,
copies and transposes inside fusions, loops nested in the step (their kernels per iteration and
trip count: each iteration launches its kernels again), the bytes the kernels read and write per
step (operands plus results of the top-level instructions; a gather counts the rows it reads),
the kernels and bytes of each kind (:func:`kind`), and whether a matmul of the first layer's
input gradient (result ``(batch, n_in)``) is compiled. Counts do not depend on the machine's
load.
"""

from __future__ import annotations

import argparse
import collections
import re
from typing import Any

import numpy as np

FREE = {"parameter", "get-tuple-element", "tuple", "bitcast", "constant"}  # no kernel
BYTES = {"f64": 8, "f32": 4, "s32": 4, "u32": 4, "bf16": 2, "f16": 2, "pred": 1, "s8": 1, "u8": 1}
_HEADER = re.compile(r"^(ENTRY )?%(\S+) .*\{$")
_INSTRUCTION = re.compile(r"^\s*(ROOT )?%(\S+) = (.+?) ([a-z][a-z0-9-]*)\((.*)$")
_TRIPS = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
_ARRAY = re.compile(r"\b(f64|f32|s32|u32|bf16|f16|pred|s8|u8)\[([0-9,]*)\]")


def _nbytes(shape: str) -> int:
    """Bytes of every array in an HLO shape string (tuples summed)."""
    total = 0
    for dtype, dims in _ARRAY.findall(shape):
        total += BYTES[dtype] * int(np.prod([int(d) for d in dims.split(",") if d]))
    return total


def parse(text: str) -> dict[str, list[dict[str, Any]]]:
    """HLO module text -> computation name -> instructions (name, shape, opcode, operands,
    called computations)."""
    computations: dict[str, list[dict[str, Any]]] = {}
    current = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header and "=" not in line.split("(")[0]:
            current = computations.setdefault(header.group(2), [])
            continue
        match = _INSTRUCTION.match(line)
        if match is None or current is None:
            continue
        _, name, shape, opcode, rest = match.groups()
        args = rest.split(")", 1)[0]
        current.append({
            "name": name,
            "shape": shape,
            "opcode": opcode,
            "operands": re.findall(r"%([\w.\-]+)", args),
            "calls": re.findall(r"(?:calls|body|to_apply)=%([\w.\-]+)", rest),
            "trips": int(t.group(1)) if (t := _TRIPS.search(rest)) else None,
        })  # fmt: skip
    return computations


def _inside(computations: dict, name: str, seen: set | None = None) -> list[dict[str, Any]]:
    """Every instruction of computation ``name`` and of the computations it calls."""
    seen = set() if seen is None else seen
    if name in seen or name not in computations:
        return []
    seen.add(name)
    out = []
    for ins in computations[name]:
        out.append(ins)
        for called in ins["calls"]:
            out += _inside(computations, called, seen)
    return out


def _kernel_bytes(ins: dict[str, Any], inner: list[dict[str, Any]], shapes: dict[str, str]) -> int:
    """Result plus operand bytes of one kernel (``inner``: the instructions it calls); a kernel
    that gathers or slices reads only as much of an operand larger than its result as the
    result holds."""
    out = _nbytes(ins["shape"])
    slices = any(i["opcode"] in ("gather", "dynamic-slice") for i in [ins, *inner])
    operands = [_nbytes(shapes.get(o, "")) for o in ins["operands"]]
    return out + sum(min(b, out) if slices else b for b in operands)


KINDS = {
    "matmul": "a dot, alone or in a fusion",
    "dropout": "Threefry hashing (xor): the masks, fused with their use, and the key split",
    "gather": "the batch's rows and the step's slices (gather or dynamic slice)",
    "reduction": "a reduce: batch-norm statistics and their gradients, bias gradients, the loss, "
                 "finite checks",
    "parameter-shaped": "element-wise with parameter-shaped results: the optimizer update, "
                        "batch-norm running averages",
    "element-wise": "everything else: batch norm, ReLU, dropout, softmax, gating, loop counters",
}


def kind(ins: dict[str, Any], inner: list[dict[str, Any]], param_shapes: set[tuple]) -> str:
    """Which of :data:`KINDS` a kernel is (the first that applies, in that order)."""
    opcodes = {ins["opcode"], *(i["opcode"] for i in inner)}
    if opcodes & {"dot", "convolution"}:
        return "matmul"
    if "xor" in opcodes:
        return "dropout"
    if opcodes & {"gather", "dynamic-slice"}:
        return "gather"
    if "reduce" in opcodes:
        return "reduction"
    results = {tuple(int(d) for d in dims.split(",") if d) for _, dims in
               _ARRAY.findall(ins["shape"])}
    if results and results <= param_shapes:
        return "parameter-shaped"
    return "element-wise"


def breakdown(
    text: str, batch: int, n_in: int, sizes: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """The op counts of the largest ``while`` body of an HLO module (see the module docstring)."""
    computations = parse(text)
    bodies = [c for ins in (i for comp in computations.values() for i in comp)
              if ins["opcode"] == "while" for c in ins["calls"]]
    if not bodies:
        raise ValueError("the HLO text has no while loop (expected the epoch's scan)")
    body = max(bodies, key=lambda b: len(_inside(computations, b)))
    top = computations[body]
    shapes = {ins["name"]: ins["shape"] for ins in top}
    kernels = [ins for ins in top if ins["opcode"] not in FREE]
    opcodes = collections.Counter(ins["opcode"] for ins in kernels)
    param_shapes = {s for a, b in zip(sizes, sizes[1:]) for s in ((a, b), (b,))} if sizes else set()
    matmuls, fused_copies, dot_fusions, moved = [], collections.Counter(), 0, 0
    loops = []  # while loops run inside one step (each iteration launches its body's kernels)
    kinds: dict[str, dict[str, int]] = {k: {"kernels": 0, "bytes": 0} for k in KINDS}
    for ins in kernels:
        inner = [i for c in ins["calls"] for i in _inside(computations, c)]
        dots = [i for i in inner if i["opcode"] in ("dot", "convolution")]
        if ins["opcode"] in ("dot", "convolution"):
            dots = [ins]
        elif dots and ins["opcode"] == "fusion":
            dot_fusions += 1
        for d in dots:
            matmuls.append({"kernel": ins["name"], "opcode": ins["opcode"],
                            "shape": _ARRAY.search(d["shape"]).group(0)})
        for i in inner:
            if i["opcode"] in ("copy", "transpose"):
                fused_copies[i["opcode"]] += 1
            if i["opcode"] == "while":
                body_kernels = [k for k in computations[i["calls"][-1]] if k["opcode"] not in FREE]
                loops.append({"in": ins["name"], "kernels_per_iteration": len(body_kernels),
                              "trips": i["trips"]})
        nbytes = _kernel_bytes(ins, inner, shapes)
        moved += nbytes
        counts = kinds[kind(ins, inner, param_shapes)]
        counts["kernels"] += 1
        counts["bytes"] += nbytes
    input_grad = f"f32[{batch},{n_in}]"
    return {
        "body": body,
        "kernels_per_step": len(kernels),
        "opcodes": dict(opcodes.most_common()),
        "fusions_with_matmul": dot_fusions,
        "matmuls": matmuls,
        "copies_transposes_in_fusions": dict(fused_copies),
        "loops_in_step": loops,
        "bytes_per_step": moved,
        "kinds": kinds,
        "first_layer_input_gradient": any(m["shape"] == input_grad for m in matmuls),
    }


def epoch_hlo(w: Any) -> str:
    """Optimized HLO text of ``run_epoch`` for workload ``w``."""
    import benchlib
    import jax.numpy as jnp

    from jaxdl.train import Keys, lower_epoch, run_init

    x, y = benchlib.make_data(w)
    trainer, hp, keys = w.trainer(), w.hyperparams(), Keys.from_seed(w.seed)
    ts = run_init(trainer, keys.init, hp)
    lowered = lower_epoch(trainer, ts, hp, jnp.asarray(x), jnp.asarray(y), keys, jnp.int32(0))
    return lowered.compile().as_text()


def main() -> None:
    import benchlib

    from jaxdl.infra.atomic import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the counts to this file")
    parser.add_argument("--dump", help="also write the HLO text to this file")
    args = parser.parse_args()
    w = benchlib.Workload()
    text = epoch_hlo(w)
    if args.dump:
        with open(args.dump, "w") as f:
            f.write(text)
    result = breakdown(text, w.batch_size, w.sizes[0], tuple(w.sizes))
    for key, value in result.items():
        if key == "matmuls":
            print("matmuls:")
            for m in value:
                print(f"  {m['shape']:<18} in {m['opcode']} {m['kernel']}")
        elif key == "kinds":
            print("kinds (kernels, MB read + written per step):")
            for name, counts in value.items():
                share = counts["bytes"] / max(result["bytes_per_step"], 1)
                print(f"  {name:<17} {counts['kernels']:>4} {counts['bytes'] / 1e6:7.1f} MB "
                      f"{share:6.1%}  {KINDS[name]}")
        else:
            print(f"{key}: {value}")
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
