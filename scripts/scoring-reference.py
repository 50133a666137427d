#!/usr/bin/env python3
"""Writes the detection-scoring fixtures of test/fixtures/scoring/ and their expected values, computed by
the official scorers: pycocotools' COCOeval and the VOC devkit's Python voc_eval.py.

Each case is one set of images, ground truth and scored detections, written in both formats:
  coco-instances.json, coco-results.json      what COCOeval reads (bbox [x, y, w, h] in pixels)
  voc/Annotations/*.xml, voc/ImageSets/Main/test.txt, voc/results/comp4_det_test_<class>.txt
                                              what voc_eval.py reads (1-based corners x+1, y+1, x+w, y+h)
  classes.names                               the class list (VOC files are per class name)
Crowd truths (iscrowd = 1) exist only in the COCO files, difficult ones only in the VOC files.
expected.json holds, per run (IoU threshold, confidence threshold, maxDets), what the scorers give:
  voc   voc10 and voc07 (voc_eval.py, use_07_metric False/True): per-class AP and mAP; voc07-darknet:
        Darknet's 11 points k/10 on voc_eval's own precision/recall curve (sum over the points / 11);
        TP/FP/FN of the detections with score >= thresh, from the tp/fp arrays voc_eval builds
  coco  coco101 (COCOeval with iouThrs = [iou], maxDets = [N]): per-class AP = mean of precision[0, :, k],
        mAP = mean of precision[0] over the classes that have truths; coco (COCOeval's defaults with
        maxDets [1, 10, N]): per-class mean of precision[:, :, k, all, N], mAP per IoU threshold, and
        the 12 numbers of summarize() (its first, hard-wired to maxDets 100, taken at N when N != 100);
        TP/FP/FN at thresh from evalImgs (area all, at [iou])
Classes without positives have null AP and are left out of every mAP (COCOeval's -1; voc_eval.py would
divide by zero). voc_eval.py cannot read a class file without lines (IndexError); such a class's AP is
0 under every definition and is written so.

Getting the scorers (neither is needed by the tests, which read the committed expected.json):
  pycocotools: build it from https://github.com/cocodataset/cocoapi (PythonAPI) with cython and numpy,
      `cd PythonAPI && python3 setup.py build_ext --inplace`, then pass --pycocotools PythonAPI (or
      install it so that `import pycocotools` works). matplotlib is not needed.
  voc_eval.py: lib/datasets/voc_eval.py of https://github.com/rbgirshick/py-faster-rcnn, passed as
      --voc-eval FILE. It is Python 2: its print statements are converted with lib2to3's print fixer
      when it is loaded, cPickle is served by pickle, and numpy's removed aliases np.bool/np.float are
      set to bool/float (numpy >= 1.24). Nothing else in it is changed.

  python3 scripts/scoring-reference.py --pycocotools DIR --voc-eval FILE [--check] [--out DIR]
--check recomputes everything in a temporary folder and compares it with the committed files.
"""

import argparse
import contextlib
import filecmp
import hashlib
import io
import json
import math
import os
import pickle
import random
import sys
import tempfile
import types
from xml.sax.saxutils import escape

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, 'test', 'fixtures', 'scoring')


# ------------------------------------------------------------------------------------------------
# The cases. Boxes are COCO [x, y, w, h] in pixels; truths have integer boxes (voc_eval.py reads
# integer corners). A case: classes, images {id, width, height}, truths {image, cls, box, crowd,
# difficult, area}, detections {image, cls, box, score} in file order, and the runs to score.

def image(i, w=100, h=100):
    return {'id': i, 'width': w, 'height': h}


def truth(img, cls, box, crowd=False, difficult=False, area=None):
    t = {'image': img, 'cls': cls, 'box': list(box), 'crowd': crowd, 'difficult': difficult}
    if area is not None:
        t['area'] = area
    return t


def det(img, cls, box, score):
    return {'image': img, 'cls': cls, 'box': list(box), 'score': score}


def case_iou_at_thresholds():
    # A 20x10 truth and a w x 10 detection inside it: IoU = 10w/200 = w/20, i.e. exactly 0.5, 0.55, ...,
    # 0.95 for w = 10 ... 19 (COCO's thresholds; linspace gives 0.8999999999999999 for the ninth). The
    # VOC corners (x+1, y+1, x+w, y+h) give the same IoU under the devkit's +1 widths. VOC's test is
    # IoU > t, COCO's IoU >= t. Class 'issue' is the 20x10 / 17x10 pair alone (IoU 0.85).
    images, truths, dets = [], [], []
    for k, w in enumerate(range(10, 20)):
        i = k + 1
        images.append(image(i, 60, 40))
        truths.append(truth(i, 0, [10, 10, 20, 10]))
        dets.append(det(i, 0, [10, 10, w, 10], round(0.95 - 0.05 * k, 2)))
    images.append(image(11, 60, 40))
    truths.append(truth(11, 1, [10, 10, 20, 10]))
    dets.append(det(11, 1, [10, 10, 17, 10], 0.9))
    return {'classes': ['box', 'issue'], 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}, {'iou': 0.75, 'thresh': 0.25}],
            'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}, {'iou': 0.75, 'thresh': 0.25, 'maxDets': 100}]}


def case_recall_steps():
    # Recall landing exactly on 0.3, 0.6, 0.7 (10 truths; the devkit's points 0.30000000000000004,
    # 0.6000000000000001, 0.7000000000000001 lie just above) and on k/100 for 100 truths (COCO's
    # recall points linspace(0, 1, 101) differ from i/100 for some i, e.g. 0.5700000000000001 for 57/100).
    classes = ['three', 'six', 'seven', 'hundred']
    images = [image(i, 400, 300) for i in range(1, 11)]
    truths, dets = [], []
    score = [1.0]

    def next_score():
        score[0] = round(score[0] - 0.001, 3)
        return score[0]

    def far(i):
        return [300, 200 + (i % 5) * 10, 20, 8]

    for c, hits in ((0, 3), (1, 6), (2, 7)):
        for k in range(10):
            truths.append(truth(k + 1, c, [20 + 40 * c, 20, 30, 30]))
        dets.append(det(1, c, far(0), next_score()))  # a false positive first
        for k in range(hits):
            dets.append(det(k + 1, c, [20 + 40 * c, 20, 30, 30], next_score()))
        dets.append(det(2, c, far(1), next_score()))
    spots = [[10 + 35 * k, 150, 30, 10] for k in range(10)]
    for i in range(1, 11):
        for k in range(10):
            truths.append(truth(i, 3, spots[k]))
    order = [(i, k) for k in range(10) for i in range(1, 11)]
    pos = 0
    for run, kind in ((7, 'tp'), (3, 'fp'), (22, 'tp'), (5, 'fp'), (28, 'tp'), (10, 'fp')):
        for _ in range(run):
            if kind == 'tp':
                i, k = order[pos]
                pos += 1
                dets.append(det(i, 3, spots[k], next_score()))
            else:
                dets.append(det(1 + pos % 10, 3, far(pos), next_score()))
    return {'classes': classes, 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}], 'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}]}


def case_duplicates_and_ties():
    # 'dup': A = [0,0,50,50] and B = [10,0,50,50] overlap; D 0.9 = A (TP); D 0.8 shifted (duplicate of
    # A); D 0.7 = [5,0,50,50] has IoU 45/55 with both: VOC takes the first best (A, taken) -> FP, COCO
    # the free B -> TP; two exact copies of A at 0.6 (duplicates).
    # 'tie': one truth per image, every detection scored 0.5, listed image 3, 1, 2, 4, 4, 3: VOC takes
    # them in file order, COCOeval by image id, then file order within an image.
    images = [image(i, 120, 80) for i in range(1, 5)]
    truths = [truth(1, 0, [0, 0, 50, 50]), truth(1, 0, [10, 0, 50, 50])]
    dets = [det(1, 0, [0, 0, 50, 50], 0.9), det(1, 0, [2, 1, 50, 50], 0.8), det(1, 0, [5, 0, 50, 50], 0.7),
            det(1, 0, [0, 0, 50, 50], 0.6), det(1, 0, [0, 0, 50, 50], 0.6)]
    for i in range(1, 5):
        truths.append(truth(i, 1, [20, 20, 40, 40]))
    far = [80, 0, 30, 20]
    dets += [det(3, 1, far, 0.5), det(1, 1, [20, 20, 40, 40], 0.5), det(2, 1, [21, 20, 40, 40], 0.5),
             det(4, 1, far, 0.5), det(4, 1, [20, 21, 40, 40], 0.5), det(3, 1, [20, 20, 39, 40], 0.5)]
    return {'classes': ['dup', 'tie'], 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.5}], 'coco_runs': [{'iou': 0.5, 'thresh': 0.5, 'maxDets': 100}]}


def case_difficult_and_crowd():
    # COCO: image 1 holds a crowd region C = [0,0,200,100] and a person P = [210,0,40,80]. Detections
    # inside C match it (intersection / detection area = 1) and are ignored, any number of them; D 0.75
    # = [150,50,100,50] meets C at 2500/5000 = 0.5 and P at 0.17. Class 'car' has only a crowd truth
    # (no positives). VOC: image 2 holds a difficult person and an ordinary one; detections on the
    # difficult one are ignored; class 'car' also has only a difficult truth in image 2.
    images = [image(1, 260, 120), image(2, 200, 120), image(3, 200, 120)]
    truths = [truth(1, 0, [0, 0, 200, 100], crowd=True, area=15000), truth(1, 0, [210, 0, 40, 80]),
              truth(1, 1, [0, 0, 100, 100], crowd=True, area=8000),
              truth(2, 0, [0, 0, 50, 100], difficult=True), truth(2, 0, [100, 0, 50, 100]),
              truth(2, 1, [60, 60, 30, 30], difficult=True), truth(3, 0, [20, 20, 60, 60])]
    dets = [det(1, 0, [10, 10, 30, 60], 0.9), det(1, 0, [50, 10, 30, 60], 0.85), det(1, 0, [210, 0, 40, 80], 0.8),
            det(1, 0, [150, 50, 100, 50], 0.75), det(1, 0, [205, 0, 40, 80], 0.7),
            det(2, 0, [0, 0, 50, 100], 0.95), det(2, 0, [2, 0, 50, 100], 0.65), det(2, 0, [100, 0, 50, 100], 0.6),
            det(2, 0, [101, 0, 50, 100], 0.55), det(3, 0, [25, 20, 60, 60], 0.5), det(3, 0, [120, 20, 60, 60], 0.45),
            det(1, 1, [10, 10, 40, 40], 0.9), det(2, 1, [60, 60, 30, 30], 0.8), det(3, 1, [0, 0, 10, 10], 0.3)]
    return {'classes': ['person', 'car'], 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}],
            'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}, {'iou': 0.75, 'thresh': 0.6, 'maxDets': 100}]}


def case_empty_classes_and_images():
    # alpha: truths in images 1, 2, 4, detections in 1, 2, 3 (3 has no truth); beta: truths, no
    # detection; gamma: detections, no truth; delta: nothing. Image 4 has truths only, image 5 nothing.
    images = [image(i, 100, 100) for i in range(1, 6)]
    truths = [truth(1, 0, [10, 10, 30, 30]), truth(2, 0, [50, 50, 30, 30]), truth(4, 0, [5, 5, 20, 20]),
              truth(1, 1, [60, 10, 20, 20]), truth(2, 1, [10, 60, 20, 20])]
    dets = [det(1, 0, [11, 10, 30, 30], 0.8), det(2, 0, [52, 48, 30, 30], 0.7), det(3, 0, [10, 10, 30, 30], 0.9),
            det(1, 2, [60, 10, 20, 20], 0.6), det(3, 2, [0, 0, 10, 10], 0.4)]
    return {'classes': ['alpha', 'beta', 'gamma', 'delta'], 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}], 'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}]}


def case_edges_and_tiny():
    # edge: truths and detections that leave the 100x80 image on every side (no clipping anywhere),
    # one detection wholly outside. tiny: 1x1, 2x2, 3x3 truths and sub-pixel detections. areas: areas
    # exactly on COCO's bounds 32^2 and 96^2 (both ends of a range count), and a truth whose JSON area
    # (1000, small) differs from its box area (1600, medium).
    images = [image(1, 100, 80), image(2, 64, 64), image(3, 640, 480)]
    truths = [truth(1, 0, [-10, -5, 40, 30]), truth(1, 0, [80, 60, 40, 40]), truth(1, 0, [-20, 50, 30, 40]),
              truth(2, 1, [5, 5, 1, 1]), truth(2, 1, [20, 20, 2, 2]), truth(2, 1, [40, 40, 3, 3]),
              truth(3, 2, [0, 0, 32, 32], area=1024), truth(3, 2, [100, 0, 96, 96], area=9216),
              truth(3, 2, [300, 0, 40, 40], area=1000), truth(3, 2, [400, 100, 200, 200])]
    dets = [det(1, 0, [-8, -5, 40, 30], 0.9), det(1, 0, [85, 62, 40, 40], 0.8), det(1, 0, [-20, 52, 28, 40], 0.7),
            det(1, 0, [120, 90, 20, 20], 0.6), det(1, 0, [-30, -30, 25, 25], 0.5),
            det(2, 1, [5, 5, 1, 1], 0.9), det(2, 1, [20.5, 20.5, 1, 1], 0.8), det(2, 1, [40, 40, 3, 2], 0.7),
            det(2, 1, [5.25, 5.25, 0.5, 0.5], 0.6), det(2, 1, [30, 30, 0.25, 0.25], 0.5),
            det(3, 2, [0, 0, 32, 32], 0.9), det(3, 2, [100, 0, 96, 96], 0.85), det(3, 2, [300, 0, 40, 40], 0.8),
            det(3, 2, [500, 400, 32, 32], 0.75), det(3, 2, [200, 300, 96, 96], 0.7), det(3, 2, [402, 98, 200, 200], 0.65)]
    return {'classes': ['edge', 'tiny', 'areas'], 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}], 'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}]}


def case_random(seed=15, n_images=72):
    # Seeded random scenes: 5 classes (the last with no truths), integer truths of 1..300 px that may
    # leave the image, 4 % crowd (COCO) and 8 % difficult (VOC), a fifth of the COCO areas differing
    # from the box area; 0..4 jittered detections per truth and 0..14 false positives per image and
    # class, every score distinct (so voc_eval's unstable quicksort cannot reorder ties).
    rng = random.Random(seed)
    classes = ['a', 'b', 'c', 'd', 'e']
    images, truths, raw = [], [], []
    for i in range(1, n_images + 1):
        W, H = rng.randint(160, 640), rng.randint(120, 480)
        images.append(image(i, W, H))
        if i % 13 == 0:
            continue  # an image with nothing
        for c in range(len(classes)):
            n = 0 if c == 4 else rng.choice([0, 0, 1, 2, 3, 5])
            for _ in range(n):
                w = rng.choice([rng.randint(1, 12), rng.randint(12, 60), rng.randint(60, 300)])
                h = max(1, min(300, int(w * rng.uniform(0.4, 2.5))))
                x, y = rng.randint(-20, W - 5), rng.randint(-20, H - 5)
                kind = rng.random()
                crowd, difficult = kind < 0.04, 0.04 <= kind < 0.12
                area = round(w * h * rng.uniform(0.4, 0.95), 2) if rng.random() < 0.2 else None
                truths.append(truth(i, c, [x, y, w, h], crowd=crowd, difficult=difficult, area=area))
                if i % 17 == 0:
                    continue  # images whose truths are never detected
                for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
                    s = rng.uniform(0.0, 0.15)
                    bx = round(x + rng.gauss(0, s * w), 2)
                    by = round(y + rng.gauss(0, s * h), 2)
                    bw = round(max(0.5, w * (1 + rng.gauss(0, s))), 2)
                    bh = round(max(0.5, h * (1 + rng.gauss(0, s))), 2)
                    raw.append((i, c, [bx, by, bw, bh], 'tp'))
            if i % 17 != 0:
                for _ in range(rng.randint(0, 14)):
                    bw, bh = round(rng.uniform(1, 200), 2), round(rng.uniform(1, 200), 2)
                    raw.append((i, c, [round(rng.uniform(-10, W), 2), round(rng.uniform(-10, H), 2), bw, bh], 'fp'))
    rng.shuffle(raw)
    scores = rng.sample(range(1, 1000000), len(raw))
    dets = []
    for (i, c, box, kind), s in zip(raw, scores):
        # truth-like detections score higher on the whole
        score = 0.7 * s / 1e6 if kind == 'fp' else 0.2 + 0.8 * s / 1e6
        dets.append(det(i, c, box, round(score, 6)))
    seen = set()
    for d in dets:  # distinct scores per class (voc_eval sorts each class file with quicksort)
        while (d['cls'], d['score']) in seen:
            d['score'] = round(d['score'] + 1e-6, 6)
        seen.add((d['cls'], d['score']))
    return {'classes': classes, 'images': images, 'truths': truths, 'detections': dets,
            'voc_runs': [{'iou': 0.5, 'thresh': 0.25}, {'iou': 0.7, 'thresh': 0.5}],
            'coco_runs': [{'iou': 0.5, 'thresh': 0.25, 'maxDets': 100}, {'iou': 0.5, 'thresh': 0.5, 'maxDets': 20}]}


CASES = {
    'iou-at-thresholds': case_iou_at_thresholds,
    'recall-steps': case_recall_steps,
    'duplicates-and-ties': case_duplicates_and_ties,
    'difficult-and-crowd': case_difficult_and_crowd,
    'empty-classes-and-images': case_empty_classes_and_images,
    'edges-and-tiny': case_edges_and_tiny,
    'random': case_random,
}


# ------------------------------------------------------------------------------------------------
# Writing both formats.

def voc_name(i):
    return '%06d' % i


def voc_corners(box):
    x, y, w, h = box
    return [x + 1, y + 1, x + w, y + h]


def num(v):
    return repr(int(v)) if float(v).is_integer() else repr(float(v))


def write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', newline='\n') as f:
        f.write(text)


def write_case(c, folder):
    names = c['classes']
    write_text(os.path.join(folder, 'classes.names'), ''.join(n + '\n' for n in names))
    annotations = []
    for t in c['truths']:
        if t['difficult']:
            continue
        x, y, w, h = t['box']
        annotations.append({'id': len(annotations) + 1, 'image_id': t['image'], 'category_id': t['cls'] + 1,
                            'bbox': [x, y, w, h], 'area': t.get('area', w * h), 'iscrowd': 1 if t['crowd'] else 0})
    instances = {'images': [{'id': im['id'], 'file_name': voc_name(im['id']) + '.jpg', 'width': im['width'], 'height': im['height']}
                            for im in c['images']],
                 'annotations': annotations,
                 'categories': [{'id': k + 1, 'name': n} for k, n in enumerate(names)]}
    write_text(os.path.join(folder, 'coco-instances.json'), json_lines(instances))
    results = [{'image_id': d['image'], 'category_id': d['cls'] + 1, 'bbox': d['box'], 'score': d['score']} for d in c['detections']]
    write_text(os.path.join(folder, 'coco-results.json'), '[\n' + ',\n'.join(json.dumps(r) for r in results) + '\n]\n')
    voc = os.path.join(folder, 'voc')
    write_text(os.path.join(voc, 'ImageSets', 'Main', 'test.txt'), ''.join(voc_name(im['id']) + '\n' for im in c['images']))
    for im in c['images']:
        objs = []
        for t in c['truths']:
            if t['image'] != im['id'] or t['crowd']:
                continue
            x1, y1, x2, y2 = voc_corners(t['box'])
            objs.append('\t<object>\n\t\t<name>%s</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n'
                        '\t\t<difficult>%d</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>%d</xmin>\n\t\t\t<ymin>%d</ymin>\n'
                        '\t\t\t<xmax>%d</xmax>\n\t\t\t<ymax>%d</ymax>\n\t\t</bndbox>\n\t</object>\n'
                        % (escape(names[t['cls']]), 1 if t['difficult'] else 0, x1, y1, x2, y2))
        write_text(os.path.join(voc, 'Annotations', voc_name(im['id']) + '.xml'),
                   '<annotation>\n\t<filename>%s.jpg</filename>\n\t<size>\n\t\t<width>%d</width>\n\t\t<height>%d</height>\n'
                   '\t\t<depth>3</depth>\n\t</size>\n%s</annotation>\n' % (voc_name(im['id']), im['width'], im['height'], ''.join(objs)))
    for k, n in enumerate(names):
        lines = []
        for d in c['detections']:
            if d['cls'] != k:
                continue
            x1, y1, x2, y2 = voc_corners(d['box'])
            lines.append('%s %s %s %s %s %s\n' % (voc_name(d['image']), num(d['score']), num(x1), num(y1), num(x2), num(y2)))
        write_text(os.path.join(voc, 'results', 'comp4_det_test_%s.txt' % n), ''.join(lines))


def json_lines(doc):
    """The instances document with one image / annotation / category per line."""
    parts = []
    for key in ('images', 'annotations', 'categories'):
        parts.append('"%s": [\n%s\n]' % (key, ',\n'.join(json.dumps(x) for x in doc[key])))
    return '{\n' + ',\n'.join(parts) + '\n}\n'


# ------------------------------------------------------------------------------------------------
# The official scorers.

def load_pycocotools(path):
    if path:
        sys.path.insert(0, os.path.abspath(path))
    try:
        import matplotlib  # noqa: F401  (pycocotools.coco imports it for drawing only)
    except ImportError:
        for m in ('matplotlib', 'matplotlib.pyplot', 'matplotlib.collections', 'matplotlib.patches'):
            stub = types.ModuleType(m)
            stub.PatchCollection = stub.Polygon = None
            sys.modules[m] = stub
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import pycocotools.cocoeval as ce
    return COCO, COCOeval, ce.__file__


class NumpyRecorder(types.ModuleType):
    """numpy for voc_eval.py, recording what it passes to np.cumsum (its fp and tp arrays)."""

    def __init__(self):
        super().__init__('numpy')
        self.cumsums = []

    def __getattr__(self, name):
        return getattr(np, name)

    def cumsum(self, a, *args, **kwargs):
        self.cumsums.append(np.array(a, dtype=np.float64, copy=True))
        return np.cumsum(a, *args, **kwargs)


def load_voc_eval(path):
    with open(path) as f:
        source = f.read()
    try:
        compile(source, path, 'exec')
    except SyntaxError:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            from lib2to3.refactor import RefactoringTool
        source = str(RefactoringTool(['lib2to3.fixes.fix_print']).refactor_string(source, path))
    sys.modules.setdefault('cPickle', types.SimpleNamespace(dump=lambda obj, f: pickle.dump(obj, f.buffer),
                                                            load=lambda f: pickle.load(f.buffer)))
    module = types.ModuleType('voc_eval')
    module.__file__ = path
    exec(compile(source, path, 'exec'), module.__dict__)
    module.np = NumpyRecorder()
    return module


def finite_or_none(v):
    v = float(v)
    return None if (math.isnan(v) or v == -1) else v


def score_voc(c, folder, voc_eval, run, tmp):
    names = c['classes']
    voc = os.path.join(folder, 'voc')
    cache = tempfile.mkdtemp(dir=tmp)
    defs = {'voc10': [], 'voc07': [], 'voc07-darknet': []}
    counts = []
    for k, n in enumerate(names):
        npos = sum(1 for t in c['truths'] if t['cls'] == k and not t['crowd'] and not t['difficult'])
        detfile = os.path.join(voc, 'results', 'comp4_det_test_%s.txt' % n)
        conf = np.array([float(l.split()[1]) for l in open(detfile) if l.strip()])
        if conf.size == 0:
            for d in defs.values():
                d.append(0.0 if npos > 0 else None)
            counts.append({'tp': 0, 'fp': 0, 'fn': npos})
            continue
        if not np.array_equal(np.argsort(-conf), np.argsort(-conf, kind='stable')):
            raise SystemExit('%s: class %s has tied scores that numpy quicksort orders differently from file order' % (folder, n))
        results = {}
        for metric in (False, True):
            voc_eval.np.cumsums = []
            with contextlib.redirect_stdout(io.StringIO()), np.errstate(divide='ignore', invalid='ignore'):
                rec, prec, ap = voc_eval.voc_eval(os.path.join(voc, 'results', 'comp4_det_test_{}.txt'),
                                                  os.path.join(voc, 'Annotations', '{}.xml'),
                                                  os.path.join(voc, 'ImageSets', 'Main', 'test.txt'),
                                                  n, cache, ovthresh=run['iou'], use_07_metric=metric)
            results[metric] = (rec, prec, ap, voc_eval.np.cumsums[0], voc_eval.np.cumsums[1])
        rec, prec, ap10, fp_raw, tp_raw = results[False]
        darknet = 0.0
        for t in [k10 / 10 for k10 in range(11)]:
            darknet += float(np.max(prec[rec >= t])) if np.sum(rec >= t) > 0 else 0.0
        darknet /= 11
        keep = int(np.sum(conf >= run['thresh']))
        tp, fp = int(tp_raw[:keep].sum()), int(fp_raw[:keep].sum())
        counts.append({'tp': tp, 'fp': fp, 'fn': npos - tp})
        defs['voc10'].append(float(ap10) if npos > 0 else None)
        defs['voc07'].append(float(results[True][2]) if npos > 0 else None)
        defs['voc07-darknet'].append(darknet if npos > 0 else None)
    out = {'iou': run['iou'], 'thresh': run['thresh'], 'definitions': {}, 'counts': total_counts(counts)}
    for name, aps in defs.items():
        scored = [a for a in aps if a is not None]
        out['definitions'][name] = {'ap': aps, 'map': float(np.mean(scored)) if scored else None}
    return out


def total_counts(per_class):
    return {'classes': per_class, 'tp': sum(x['tp'] for x in per_class), 'fp': sum(x['fp'] for x in per_class),
            'fn': sum(x['fn'] for x in per_class)}


def coco_eval(COCO, COCOeval, folder, iou_thrs, max_dets):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(os.path.join(folder, 'coco-instances.json'))
        dt = gt.loadRes(os.path.join(folder, 'coco-results.json'))
        E = COCOeval(gt, dt, iouType='bbox')
        if iou_thrs is not None:
            E.params.iouThrs = np.array(iou_thrs, dtype=np.float64)
        E.params.maxDets = max_dets
        E.evaluate()
        E.accumulate()
    return E


def masked_mean(a):
    a = a[a > -1]
    return float(np.mean(a)) if a.size else None


def score_coco(c, folder, COCO, COCOeval, run):
    K = len(c['classes'])
    N = run['maxDets']
    one = coco_eval(COCO, COCOeval, folder, [run['iou']], [N])
    p1 = one.eval['precision']  # [T=1, R, K, A, M=1]
    coco101 = {'ap': [masked_mean(p1[0, :, k, 0, 0]) for k in range(K)], 'map': masked_mean(p1[0, :, :, 0, 0])}
    counts = []
    for k, cat in enumerate(one.params.catIds):
        tp = fp = npig = 0
        for e in one.evalImgs:
            if e is None or e['category_id'] != cat or e['aRng'] != [0, 1e5 ** 2]:
                continue
            npig += int(np.count_nonzero(e['gtIgnore'] == 0))
            for j, s in enumerate(e['dtScores']):
                if s < run['thresh'] or e['dtIgnore'][0, j]:
                    continue
                if e['dtMatches'][0, j] > 0:
                    tp += 1
                else:
                    fp += 1
        counts.append({'tp': tp, 'fp': fp, 'fn': npig - tp})
    full = coco_eval(COCO, COCOeval, folder, None, [1, 10, N])
    with contextlib.redirect_stdout(io.StringIO()):
        full.summarize()
    p = full.eval['precision']  # [T, R, K, A, M]
    m = full.params.maxDets.index(N)
    summary = [finite_or_none(v) for v in full.stats]
    if N != 100:
        # summarize() asks stats[0] for maxDets=100 whatever params.maxDets holds (-1 when 100 is not
        # there); its value at N is _summarize(1, maxDets=N): the mean of precision[:, :, :, all, N]
        summary[0] = masked_mean(p[:, :, :, 0, m])
    coco = {'ap': [masked_mean(p[:, :, k, 0, m]) for k in range(K)], 'map': summary[0],
            'mapPerIou': [masked_mean(p[t, :, :, 0, m]) for t in range(p.shape[0])],
            'iouThresholds': [float(t) for t in full.params.iouThrs],
            'summary': summary}
    return {'iou': run['iou'], 'thresh': run['thresh'], 'maxDets': N,
            'definitions': {'coco101': coco101, 'coco': coco}, 'counts': total_counts(counts)}


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(out, COCO, COCOeval, cocoeval_file, voc_eval, tmp):
    for name, make in CASES.items():
        c = make()
        folder = os.path.join(out, name)
        write_case(c, folder)
        expected = {
            'case': name,
            'generator': 'scripts/scoring-reference.py',
            'scorers': {'pycocotools/cocoeval.py sha256': sha256(cocoeval_file),
                        'voc_eval.py sha256': sha256(voc_eval.__file__), 'numpy': np.__version__},
            'classes': c['classes'],
            'images': len(c['images']),
            'truths': len(c['truths']),
            'detections': len(c['detections']),
            'voc': [score_voc(c, folder, voc_eval, run, tmp) for run in c['voc_runs']],
            'coco': [score_coco(c, folder, COCO, COCOeval, run) for run in c['coco_runs']],
        }
        write_text(os.path.join(folder, 'expected.json'), json.dumps(expected, indent=1) + '\n')
        print('%-26s %3d images %5d truths %5d detections' % (name, len(c['images']), len(c['truths']), len(c['detections'])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pycocotools', default=os.environ.get('PYCOCOTOOLS_DIR'), help='folder holding the pycocotools package')
    ap.add_argument('--voc-eval', default=os.environ.get('VOC_EVAL'), required=os.environ.get('VOC_EVAL') is None, help="py-faster-rcnn's voc_eval.py")
    ap.add_argument('--out', default=DEFAULT_OUT)
    ap.add_argument('--check', action='store_true', help='compare with the committed files instead of writing them')
    args = ap.parse_args()
    for alias, value in (('float', float), ('bool', bool)):  # removed in numpy 1.24, used by both scorers
        if alias not in np.__dict__:
            setattr(np, alias, value)
    COCO, COCOeval, cocoeval_file = load_pycocotools(args.pycocotools)
    voc_eval = load_voc_eval(args.voc_eval)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'scoring') if args.check else args.out
        build(out, COCO, COCOeval, cocoeval_file, voc_eval, tmp)
        if args.check:
            diffs = []

            def walk(cmp, rel):
                diffs.extend(os.path.join(rel, f) for f in cmp.diff_files + cmp.left_only + cmp.right_only)
                for sub, c in cmp.subdirs.items():
                    walk(c, os.path.join(rel, sub))
            walk(filecmp.dircmp(out, args.out), '')
            if diffs:
                raise SystemExit('differs from the committed fixtures: ' + ', '.join(sorted(diffs)))
            print('the committed fixtures and expected values are up to date')


if __name__ == '__main__':
    main()
