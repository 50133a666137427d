// How a scorer measures boxes: the IoU of a detection with a truth (and with a crowd region), and the
// area that COCO's area ranges compare, for each box convention evaluation reads.
//
//   centre boxes  Box {x, y, w, h}: centre and size (Darknet; relative or pixels). Continuous IoU,
//                 area w·h.
//   COCO bbox     [x, y, w, h]: top-left corner and size in pixels (COCO JSON). pycocotools' bbIou:
//                 iw = min(x_d + w_d, x_g + w_g) − max(x_d, x_g) (no overlap when ≤ 0), likewise ih;
//                 inter = iw·ih, union = area_d + area_g − inter, area = w·h.
//   VOC corners   {x1, y1, x2, y2}: 1-based inclusive pixel indices xmin..xmax (VOC XML, comp4 files).
//                 The devkit (VOCevaldet, voc_eval.py) counts pixels: iw = min(x2) − max(x1) + 1 clamped
//                 at 0, likewise ih; union = (x2_d − x1_d + 1)(y2_d − y1_d + 1) + (same for the truth) − inter.
// A crowd truth (COCO iscrowd) is compared by intersection over the detection's own area, as COCOeval
// does, so a detection lying inside a crowd region matches it whatever the region's size.
// Each rule uses the same floating-point operations in the same order as its scorer, so an IoU that
// lands exactly on a threshold compares the same way there and here.

import { boxIouF64, type Box, type Corners } from './box.js';

/** A COCO bbox: [x, y, w, h] with (x, y) the top-left corner, in pixels. */
export type CocoBbox = readonly [number, number, number, number];

/** IoU and area of one box convention. */
export interface BoxRule<B> {
  /** Name used in reports. */
  readonly name: string;
  /** IoU of a detection with a truth; for a crowd truth, intersection over the detection's area. */
  iou(det: B, truth: B, crowd: boolean): number;
  /** Area of a box (COCO's area ranges). */
  area(box: B): number;
}

/** Centre boxes (Darknet, relative or pixel units). */
export const CENTRE_BOXES: BoxRule<Box> = {
  name: 'centre boxes',
  iou(det, truth, crowd) {
    if (!crowd) return boxIouF64(det, truth);
    const iw = Math.min(det.x + det.w / 2, truth.x + truth.w / 2) - Math.max(det.x - det.w / 2, truth.x - truth.w / 2);
    const ih = Math.min(det.y + det.h / 2, truth.y + truth.h / 2) - Math.max(det.y - det.h / 2, truth.y - truth.h / 2);
    const area = det.w * det.h;
    return iw > 0 && ih > 0 && area > 0 ? (iw * ih) / area : 0;
  },
  area: (b) => b.w * b.h,
};

/** COCO [x, y, w, h] boxes, compared as pycocotools' bbIou does. */
export const COCO_BOXES: BoxRule<CocoBbox> = {
  name: 'COCO [x, y, w, h] boxes',
  iou(d, g, crowd) {
    const da = d[2] * d[3];
    const ga = g[2] * g[3];
    const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
    if (w <= 0) return 0;
    const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
    if (h <= 0) return 0;
    const i = w * h;
    return i / (crowd ? da : da + ga - i);
  },
  area: (b) => b[2] * b[3],
};

/** VOC devkit corners (1-based inclusive pixels), compared as voc_eval.py does. */
export const VOC_BOXES: BoxRule<Corners> = {
  name: 'VOC devkit corners',
  iou(d, g, crowd) {
    const iw = Math.max(Math.min(g.x2, d.x2) - Math.max(g.x1, d.x1) + 1, 0);
    const ih = Math.max(Math.min(g.y2, d.y2) - Math.max(g.y1, d.y1) + 1, 0);
    const inter = iw * ih;
    const da = (d.x2 - d.x1 + 1) * (d.y2 - d.y1 + 1);
    return inter / (crowd ? da : da + (g.x2 - g.x1 + 1) * (g.y2 - g.y1 + 1) - inter);
  },
  area: (b) => (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1),
};
