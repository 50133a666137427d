#!/usr/bin/env python3
"""The PyTorch peer of the benches in bench/: the same work done with PyTorch on the CPU.

The TypeScript benches start this script (with the Python of --python or $PYTHON, default
/usr/bin/python3, which has Debian's python3-torch) in --serve mode and talk to it one JSON line at a
time on stdin/stdout, so that they can time their own side and this one alternately in the same run:

    {"op": "setup", "model": "yolov2-tiny-voc", "batch": 1, "size": 416}   -> {"ok": true, "params": ...}
    {"op": "train", "runs": 5}     zero_grad, forward, loss, backward, SGD step -> {"ms": [...]}
    {"op": "infer", "runs": 5}     eval mode, no_grad forward                  -> {"ms": [...]}
    {"op": "init", "runs": 3}      build the model of the last setup (weight init) -> {"ms": [...]}
    {"op": "gemm", "m", "n", "k", "ta", "tb", "threads", "runs"}             -> {"ms": [...]}
    {"op": "conv", "cin", "cout", "k", "hw", "batch", "bias", "runs"}        -> {"fwd_ms", "fwdbwd_ms"}
    {"op": "maxpool", "c", "hw", "stride", "runs"}                           -> {"fwd_ms", "fwdbwd_ms"}
    {"op": "batchnorm", "c", "hw", "runs"}                                   -> {"fwd_ms", "fwdbwd_ms"}
    {"op": "quit"}

Models (float32, NCHW, torch.set_num_threads(2) unless a request says otherwise):
  yolov2-tiny-voc    cfg/darknet/yolov2-tiny-voc.cfg: 9 conv (BN + leaky 0.1 but the last), 6 maxpool
                     (the last size 2 stride 1 with Darknet's right/bottom padding); loss sum(out^2)
  yolov2-voc         cfg/darknet/yolov2-voc.cfg: Darknet-19 trunk, passthrough (conv 1x1, reorg), concat,
                     head; loss sum(out^2)
  yolov2-tiny-synth  cfg/yolov2-tiny-synth.cfg (the demo's detector, 96x96): 7 conv, 4 maxpool, and the
                     YOLOv2 region loss (sigmoid x/y/objectness, softmax classes, best-IoU no-object
                     term, prior pull while seen < 12800, best-anchor assignment with rescore), SGD with
                     the cfg's momentum and decay; truth: 4 random boxes per image (seeded)
Timings: wall clock (time.perf_counter) of each call, in ms, after one warm-up call.

Run by hand: python3 bench/pytorch_peer.py --model yolov2-tiny-voc --batch 1 --runs 5
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


# ----------------------------------------------------------------------------------------------------
# models

class ConvBNLeaky(nn.Sequential):
    def __init__(self, cin, cout, k):
        super().__init__(nn.Conv2d(cin, cout, k, 1, k // 2, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1))


class MaxPoolS1(nn.Module):
    """Darknet [maxpool] size=2 stride=1: one -inf column/row on the right/bottom."""

    def forward(self, x):
        return F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 2, 1)


def tiny_yolo_voc():
    layers, cin = [], 3
    for i, c in enumerate([16, 32, 64, 128, 256, 512]):
        layers += [ConvBNLeaky(cin, c, 3), nn.MaxPool2d(2, 2) if i < 5 else MaxPoolS1()]
        cin = c
    layers += [ConvBNLeaky(512, 1024, 3), ConvBNLeaky(1024, 1024, 3), nn.Conv2d(1024, 125, 1, 1, 0, bias=True)]
    return nn.Sequential(*layers)


def tiny_synth():
    layers, cin = [], 3
    for i, c in enumerate([16, 32, 64, 128]):
        layers += [ConvBNLeaky(cin, c, 3), nn.MaxPool2d(2, 2)]
        cin = c
    layers += [ConvBNLeaky(128, 256, 3), ConvBNLeaky(256, 256, 3), nn.Conv2d(256, 24, 1, 1, 0, bias=True)]
    return nn.Sequential(*layers)


def reorg(x):
    """Darknet's reorg (stride 2) on NCHW, as a chain of views."""
    B, C, H, W = x.shape
    h, w = H // 2, W // 2
    return (x.reshape(B, C, h, 2, w, 2).transpose(3, 4).reshape(B, C, h * w, 4)
            .transpose(2, 3).reshape(B, C, 4, h, w).transpose(1, 2).reshape(B, 4 * C, h, w))


class YoloV2VOC(nn.Module):
    def __init__(self):
        super().__init__()
        M = lambda: nn.MaxPool2d(2, 2)  # noqa: E731
        C = ConvBNLeaky
        self.part1 = nn.Sequential(
            C(3, 32, 3), M(), C(32, 64, 3), M(), C(64, 128, 3), C(128, 64, 1), C(64, 128, 3), M(),
            C(128, 256, 3), C(256, 128, 1), C(128, 256, 3), M(),
            C(256, 512, 3), C(512, 256, 1), C(256, 512, 3), C(512, 256, 1), C(256, 512, 3))
        self.part2 = nn.Sequential(
            M(), C(512, 1024, 3), C(1024, 512, 1), C(512, 1024, 3), C(1024, 512, 1), C(512, 1024, 3),
            C(1024, 1024, 3), C(1024, 1024, 3))
        self.passthrough = C(512, 64, 1)
        self.head = nn.Sequential(C(1280, 1024, 3), nn.Conv2d(1024, 125, 1, 1, 0, bias=True))

    def forward(self, x):
        a = self.part1(x)
        b = self.part2(a)
        return self.head(torch.cat([reorg(self.passthrough(a)), b], dim=1))


# yolov2-tiny-synth.cfg's [region]
SYNTH_ANCHORS = [1.19, 1.17, 1.61, 1.56, 2.03, 2.04]
SYNTH_CLASSES = 3
SYNTH_NUM = 3


def box_iou(ax, ay, aw, ah, bx, by, bw, bh):
    """IoU of centre/size boxes (broadcasting)."""
    w = (torch.min(ax + aw / 2, bx + bw / 2) - torch.max(ax - aw / 2, bx - bw / 2)).clamp(min=0)
    h = (torch.min(ay + ah / 2, by + bh / 2) - torch.max(ay - ah / 2, by - bh / 2)).clamp(min=0)
    inter = w * h
    return inter / (aw * ah + bw * bh - inter).clamp(min=1e-12)


def region_loss(out, truth, seen, thresh=0.6, object_scale=5.0, noobject_scale=1.0, class_scale=1.0, coord_scale=1.0):
    """The YOLOv2 region loss of out [N, A*(5+C), H, W] against truth [N, T, 5] (x, y, w, h, class;
    x = 0 ends an image's list), as a differentiable sum of squared errors."""
    N, _, H, W = out.shape
    A, C = SYNTH_NUM, SYNTH_CLASSES
    v = out.view(N, A, 5 + C, H, W)
    sx, sy = torch.sigmoid(v[:, :, 0]), torch.sigmoid(v[:, :, 1])
    tw, th = v[:, :, 2], v[:, :, 3]
    obj = torch.sigmoid(v[:, :, 4])
    cls = torch.softmax(v[:, :, 5:], dim=2)
    anchors = torch.tensor(SYNTH_ANCHORS).view(A, 2)
    aw, ah = anchors[:, 0].view(1, A, 1, 1), anchors[:, 1].view(1, A, 1, 1)
    gx = torch.arange(W, dtype=torch.float32).view(1, 1, 1, W)
    gy = torch.arange(H, dtype=torch.float32).view(1, 1, H, 1)
    with torch.no_grad():
        px, py = (gx + sx) / W, (gy + sy) / H
        pw, ph = torch.exp(tw) * aw / W, torch.exp(th) * ah / H
        valid = truth[:, :, 0] != 0  # [N, T]
        t = truth.view(N, 1, 1, 1, -1, 5)
        iou = box_iou(px.unsqueeze(-1), py.unsqueeze(-1), pw.unsqueeze(-1), ph.unsqueeze(-1),
                      t[..., 0], t[..., 1], t[..., 2], t[..., 3])
        iou = torch.where(valid.view(N, 1, 1, 1, -1), iou, torch.zeros(()))
        best = iou.max(dim=-1).values
        obj_t = torch.zeros_like(obj)
        obj_s = torch.where(best > thresh, torch.zeros(()), torch.full((), noobject_scale)).expand_as(obj).clone()
        coord_t = torch.stack([torch.full_like(sx, 0.5), torch.full_like(sy, 0.5), torch.zeros_like(tw), torch.zeros_like(th)], 2)
        coord_s = torch.full_like(sx, 0.01 if seen < 12800 else 0.0)
        cls_t = cls.detach().clone()
        cls_s = torch.zeros_like(sx)
        n_idx, t_idx = valid.nonzero(as_tuple=True)
        if n_idx.numel() > 0:
            tb = truth[n_idx, t_idx]  # [M, 5]
            ci = (tb[:, 0] * W).long().clamp(max=W - 1)
            cj = (tb[:, 1] * H).long().clamp(max=H - 1)
            shape_iou = box_iou(0, 0, tb[:, 2:3], tb[:, 3:4], 0, 0, anchors[:, 0].view(1, A) / W, anchors[:, 1].view(1, A) / H)
            a_idx = shape_iou.argmax(dim=1)
            sel = (n_idx, a_idx, cj, ci)
            coord_t_sel = torch.stack([tb[:, 0] * W - ci, tb[:, 1] * H - cj,
                                       torch.log(tb[:, 2] * W / anchors[a_idx, 0]), torch.log(tb[:, 3] * H / anchors[a_idx, 1])], 1)
            coord_t.permute(0, 1, 3, 4, 2)[sel] = coord_t_sel
            coord_s[sel] = coord_scale * (2 - tb[:, 2] * tb[:, 3])
            pred_iou = box_iou(px[sel], py[sel], pw[sel], ph[sel], tb[:, 0], tb[:, 1], tb[:, 2], tb[:, 3])
            obj_t[sel] = pred_iou
            obj_s[sel] = object_scale
            onehot = F.one_hot(tb[:, 4].long(), C).float()
            cls_t.permute(0, 1, 3, 4, 2)[sel] = onehot
            cls_s[sel] = class_scale
    coords = torch.stack([sx, sy, tw, th], 2)
    return ((coord_s.unsqueeze(2) * (coords - coord_t) ** 2).sum() + (obj_s * (obj - obj_t) ** 2).sum()
            + (cls_s.unsqueeze(2) * (cls - cls_t) ** 2).sum())


def synth_truth(batch, boxes=4, seed=3):
    g = torch.Generator().manual_seed(seed)
    t = torch.zeros(batch, 30, 5)
    t[:, :boxes, 0:2] = 0.1 + 0.8 * torch.rand(batch, boxes, 2, generator=g)
    t[:, :boxes, 2:4] = 0.1 + 0.3 * torch.rand(batch, boxes, 2, generator=g)
    t[:, :boxes, 4] = torch.randint(0, SYNTH_CLASSES, (batch, boxes), generator=g).float()
    return t


MODELS = {"yolov2-tiny-voc": tiny_yolo_voc, "yolov2-voc": YoloV2VOC, "yolov2-tiny-synth": tiny_synth}


# ----------------------------------------------------------------------------------------------------
# timed work

def timed(fn, runs, warmup=1):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return ms


class Session:
    def __init__(self):
        self.model = None

    def setup(self, req):
        name = req["model"]
        if name not in MODELS:
            raise ValueError("unknown model '%s' (known: %s)" % (name, ", ".join(MODELS)))
        self.name, self.batch = name, int(req.get("batch", 1))
        size = int(req.get("size", 96 if name == "yolov2-tiny-synth" else 416))
        torch.manual_seed(0)
        self.model = MODELS[name]()
        self.x = torch.rand(self.batch, 3, size, size)
        synth = name == "yolov2-tiny-synth"
        # the cfgs' optimiser: momentum 0.9, decay 0.0005 (Darknet's decay is per image: scaled by batch)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=1e-6, momentum=0.9, weight_decay=5e-4)
        self.truth = synth_truth(self.batch) if synth else None
        return {"ok": True, "params": sum(p.numel() for p in self.model.parameters())}

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        out = self.model(self.x)
        loss = region_loss(out, self.truth, seen=0) if self.truth is not None else (out * out).sum()
        loss.backward()
        self.opt.step()

    def train(self, req):
        self.model.train()
        return {"ms": timed(self.step, int(req.get("runs", 5)))}

    def infer(self, req):
        self.model.eval()

        def f():
            with torch.no_grad():
                self.model(self.x)
        return {"ms": timed(f, int(req.get("runs", 5)))}

    def init(self, req):
        make = MODELS[self.name]
        return {"ms": timed(lambda: make(), int(req.get("runs", 3)), warmup=0)}


def gemm(req):
    m, n, k = int(req["m"]), int(req["n"]), int(req["k"])
    torch.manual_seed(0)
    a = torch.rand(k, m) if req.get("ta") else torch.rand(m, k)
    b = torch.rand(n, k) if req.get("tb") else torch.rand(k, n)
    a2 = a.t() if req.get("ta") else a
    b2 = b.t() if req.get("tb") else b
    c = torch.empty(m, n)
    prev = torch.get_num_threads()
    torch.set_num_threads(int(req.get("threads", 2)))
    try:
        return {"ms": timed(lambda: torch.mm(a2, b2, out=c), int(req.get("runs", 5)))}
    finally:
        torch.set_num_threads(prev)


def conv(req):
    cin, cout, k, hw, batch = int(req["cin"]), int(req["cout"]), int(req["k"]), int(req["hw"]), int(req.get("batch", 1))
    torch.manual_seed(0)
    x = torch.rand(batch, cin, hw, hw) - 0.5
    w = torch.rand(cout, cin, k, k) - 0.5
    b = torch.rand(cout) if req.get("bias") else None
    runs = int(req.get("runs", 5))

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, 1, k // 2)
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    bg = b.clone().requires_grad_(True) if b is not None else None
    gout = torch.rand(batch, cout, hw, hw) - 0.5

    def fwdbwd():
        xg.grad = wg.grad = None
        if bg is not None:
            bg.grad = None
        F.conv2d(xg, wg, bg, 1, k // 2).backward(gout)
    return {"fwd_ms": timed(fwd, runs), "fwdbwd_ms": timed(fwdbwd, runs)}


def maxpool(req):
    c, hw, s = int(req["c"]), int(req["hw"]), int(req["stride"])
    x = torch.rand(1, c, hw, hw)
    xg = x.clone().requires_grad_(True)
    pool = (lambda t: F.max_pool2d(t, 2, 2)) if s == 2 else (lambda t: F.max_pool2d(F.pad(t, (0, 1, 0, 1), value=float("-inf")), 2, 1))
    gy = torch.rand_like(pool(x))
    runs = int(req.get("runs", 5))

    def fwd():
        with torch.no_grad():
            pool(x)

    def fwdbwd():
        xg.grad = None
        pool(xg).backward(gy)
    return {"fwd_ms": timed(fwd, runs), "fwdbwd_ms": timed(fwdbwd, runs)}


def batchnorm(req):
    c, hw = int(req["c"]), int(req["hw"])
    bn = nn.BatchNorm2d(c).train()
    x = torch.rand(1, c, hw, hw) * 4 - 2
    xg = x.clone().requires_grad_(True)
    gy = torch.rand_like(x)
    runs = int(req.get("runs", 5))

    def fwd():
        with torch.no_grad():
            bn(x)

    def fwdbwd():
        xg.grad = None
        bn.zero_grad(set_to_none=True)
        bn(xg).backward(gy)
    return {"fwd_ms": timed(fwd, runs), "fwdbwd_ms": timed(fwdbwd, runs)}


def serve():
    s = Session()
    handlers = {"setup": s.setup, "train": s.train, "infer": s.infer, "init": s.init,
                "gemm": gemm, "conv": conv, "maxpool": maxpool, "batchnorm": batchnorm}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if req.get("op") == "quit":
                break
            h = handlers.get(req.get("op"))
            if h is None:
                raise ValueError("unknown op '%s'" % req.get("op"))
            reply = h(req)
        except Exception as e:  # reported to the bench, which prints it
            reply = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(reply), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (the benches use this)")
    ap.add_argument("--model", default="yolov2-tiny-voc", choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if a.serve:
        serve()
        return
    s = Session()
    req = {"model": a.model, "batch": a.batch, "runs": a.runs}
    if a.size:
        req["size"] = a.size
    s.setup(req)
    for op in ("train", "infer"):
        ms = getattr(s, op)(req)["ms"]
        print("%s %s batch %d: median %.1f ms %s" % (a.model, op, a.batch, sorted(ms)[len(ms) // 2], [round(v, 1) for v in ms]))


if __name__ == "__main__":
    main()
