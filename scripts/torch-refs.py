#!/usr/bin/env python3
"""Write PyTorch reference cases for `tsgrad check-refs`, for any op PyTorch can express.

    python3 scripts/torch-refs.py SPEC.json --out DIR [--only NAME,...]

SPEC.json holds {"cases": [case, ...]}; each case:

    {
      "name": "swish_1",                  # file name DIR/swish_1.json (default: <op>_<index>)
      "op": "swish",                      # the op name a runner is registered for
      "expr": "x * torch.sigmoid(x * p['beta'])",
      "params": {"beta": 1.5},            # copied to the case; the expression reads them as p[...]
      "inputs": {                          # drawn in this order from numpy.random.RandomState(seed)
        "x": {"shape": [2, 3], "low": -2, "high": 2},                 # float32, uniform [low, high)
        "t": {"shape": [2], "dtype": "int64", "low": 0, "high": 3},  # integers in [low, high)
        "w": {"shape": [2], "values": [0.5, -1]}                      # given values (float32)
      },
      "grads": ["x"],                      # inputs to differentiate (default: every float input)
      "seed": 1,                           # default: 1000 + index
      "differentiable_output": "y"         # default: the first output
    }

`expr` is a Python expression over the input names, `p` (the params), `torch`, `F`
(torch.nn.functional) and `math`. It returns a tensor (output "y"), a tuple (outputs "y0", "y1", ...) or
a dict {name: tensor}. Integer outputs (e.g. indices) are written as int64 and not differentiated.

How the numbers are made (the torch-refs format, test/fixtures/torch-refs and shared/torch-refs README):
inputs and the upstream gradient `gout` are drawn as float32 and run in float64 on the CPU; backward is
out.backward(gout) through autograd; every output and gradient is rounded to float32 and written as the
shortest decimal that reads back as that float32. meta.torch_f32_max_abs_diff is how far PyTorch's own
float32 run lands from the reference per tensor, meta.absmax the largest |value| of each reference tensor.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


class F32Text(str):
    """A float32 written as the shortest decimal that reads back as it (a bare JSON number)."""


def f32_text(v):
    """Shortest decimal that reads back as the float32 nearest to v."""
    if not np.isfinite(np.float32(v)):
        raise ValueError(f"non-finite value {v} in a reference case")
    return F32Text(str(np.float32(v)))


def tensor_json(t):
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32, torch.bool):
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}
    vals = t.to(torch.float64).reshape(-1).tolist()
    return {"shape": list(t.shape), "dtype": "float32", "data": [f32_text(v) for v in vals]}


def draw(rng, spec):
    shape = spec["shape"]
    n = int(np.prod(shape)) if shape else 1
    if "values" in spec:
        vals = np.asarray(spec["values"], dtype=np.float64).reshape(shape)
        return vals.astype(np.int64) if spec.get("dtype") == "int64" else vals.astype(np.float32)
    if spec.get("dtype") == "int64":
        return rng.randint(spec.get("low", 0), spec["high"], size=n).astype(np.int64).reshape(shape)
    low, high = spec.get("low", -1.0), spec.get("high", 1.0)
    return rng.uniform(low, high, size=n).astype(np.float32).reshape(shape)


def outputs_of(result):
    if isinstance(result, torch.Tensor):
        return {"y": result}
    if isinstance(result, (tuple, list)):
        return {f"y{i}": r for i, r in enumerate(result)}
    if isinstance(result, dict):
        return dict(result)
    raise TypeError(f"expr must give a tensor, a tuple or a dict of tensors, got {type(result).__name__}")


def run(case, arrays, dtype, gout_arrays=None):
    """Inputs as `dtype` tensors (ints as int64), the outputs, and the gradients for gout (if given)."""
    grads_wanted = case["grads"]
    env = {}
    for name, a in arrays.items():
        if a.dtype == np.int64:
            env[name] = torch.from_numpy(a.copy())
        else:
            env[name] = torch.from_numpy(a.astype(np.float64)).to(dtype).requires_grad_(name in grads_wanted)
    scope = {"torch": torch, "F": F, "math": math, "p": case.get("params", {}), **env}
    outs = outputs_of(eval(case["expr"], scope))
    grads = {}
    if gout_arrays is not None and grads_wanted:
        y = outs[case["differentiable_output"]]
        y.backward(torch.from_numpy(gout_arrays.astype(np.float64)).to(dtype))
        for name in grads_wanted:
            g = env[name].grad
            grads[name] = g if g is not None else torch.zeros_like(env[name])
    return outs, grads


def make_case(case, index):
    case = dict(case)
    for key in ("op", "expr", "inputs"):
        if key not in case:
            raise ValueError(f"case {index}: missing '{key}'")
    case.setdefault("name", f"{case['op']}_{index}")
    seed = case.setdefault("seed", 1000 + index)
    rng = np.random.RandomState(seed)
    arrays = {name: draw(rng, spec) for name, spec in case["inputs"].items()}
    float_inputs = [n for n, a in arrays.items() if a.dtype != np.int64]
    case.setdefault("grads", float_inputs)
    for g in case["grads"]:
        if g not in float_inputs:
            raise ValueError(f"case {case['name']}: grads names '{g}', which is not a float input")
    probe, _ = run({**case, "grads": []}, arrays, torch.float64)
    float_outs = [k for k, v in probe.items() if v.is_floating_point()]
    case.setdefault("differentiable_output", float_outs[0] if float_outs else None)
    d_out = case["differentiable_output"]
    gout = None
    if case["grads"]:
        if d_out not in probe:
            raise ValueError(f"case {case['name']}: no output '{d_out}' (outputs: {', '.join(probe)})")
        shape = list(probe[d_out].shape)
        gout = rng.uniform(-1.0, 1.0, size=int(np.prod(shape)) if shape else 1).astype(np.float32).reshape(shape)
    outs64, grads64 = run(case, arrays, torch.float64, gout)
    outs32, grads32 = run(case, arrays, torch.float32, gout)

    def rounded(t):
        return t.detach().to(torch.float32).to(torch.float64)

    torch_diff, absmax = {}, {}
    for kind, ref, mine in (("out", outs64, outs32), ("grad", grads64, grads32)):
        for k, v in ref.items():
            if not v.is_floating_point():
                continue
            r = rounded(v)
            torch_diff[f"{kind}:{k}"] = float((mine[k].detach().to(torch.float64) - r).abs().max()) if r.numel() else 0.0
            absmax[f"{kind}:{k}"] = float(r.abs().max()) if r.numel() else 0.0
    inputs = {}
    for name, a in arrays.items():
        inputs[name] = tensor_json(torch.from_numpy(a.copy()))
    if gout is not None:
        inputs["gout"] = tensor_json(torch.from_numpy(gout))
    meta = {"seed": seed, "torch_f32_max_abs_diff": torch_diff, "absmax": absmax, "generator": "tsgrad scripts/torch-refs.py", "expr": case["expr"]}
    if d_out is not None:
        meta["differentiable_output"] = d_out
    return case["name"], {
        "op": case["op"],
        "params": case.get("params", {}),
        "inputs": inputs,
        "outputs": {k: tensor_json(v) for k, v in outs64.items()},
        "grads": {k: tensor_json(v) for k, v in grads64.items()},
        "meta": meta,
    }


def write_json(obj):
    """JSON with the float32 texts as bare numbers."""
    def enc(o):
        if isinstance(o, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {enc(v)}" for k, v in o.items()) + "}"
        if isinstance(o, list):
            return "[" + ", ".join(enc(v) for v in o) + "]"
        if isinstance(o, F32Text):
            return str(o)
        return json.dumps(o)
    return enc(obj) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)
    cases = spec.get("cases")
    if not isinstance(cases, list) or not cases:
        sys.exit(f"{args.spec}: expected {{\"cases\": [...]}} with at least one case")
    only = set(filter(None, args.only.split(",")))
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    written = 0
    for i, c in enumerate(cases, start=1):
        if only and c.get("name") not in only:
            continue
        try:
            name, obj = make_case(c, i)
        except Exception as e:  # one line per bad case, naming it
            sys.exit(f"{args.spec}: case {c.get('name', i)}: {e}")
        path = os.path.join(args.out, f"{name}.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(write_json(obj))
        os.replace(tmp, path)
        written += 1
        print(f"{path}: {obj['op']}, outputs {', '.join(obj['outputs'])}, grads {', '.join(obj['grads']) or '-'}")
    print(f"{written} cases written to {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
