// Darknet classifier data: a list file of image paths and a labels file of class names; the class of
// an image is the one name that occurs in its path (data.c fill_truth). Here only the file's base name
// is searched, so that a folder name that happens to contain a class name cannot change the label.

import { basename } from 'node:path';
import { DataError, DataIssue, readImageList, type LabelCheckOptions } from './labels.js';

export interface ClassifiedImage {
  image: string;
  cls: number;
}

/** The class whose name occurs in the file's base name; an error message if none or several do. */
export function classFromPath(path: string, names: readonly string[]): number | string {
  const base = basename(path);
  const hits: number[] = [];
  names.forEach((n, i) => {
    if (base.includes(n)) hits.push(i);
  });
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) return `no class name occurs in '${base}'`;
  return `several class names occur in '${base}': ${hits.map((i) => names[i]).join(', ')}`;
}

/** Reads a classifier list; images whose class is not found (or ambiguous) are reported and skipped. */
export function readClassificationList(
  listFile: string,
  names: readonly string[],
  opts: Pick<LabelCheckOptions, 'strict'> = {},
): { items: ClassifiedImage[]; issues: DataIssue[] } {
  const items: ClassifiedImage[] = [];
  const issues: DataIssue[] = [];
  for (const { path, line } of readImageList(listFile)) {
    const c = classFromPath(path, names);
    if (typeof c === 'string') {
      const issue = new DataIssue(listFile, line, c);
      if (opts.strict) throw new DataError(issue.toString(), issue);
      issues.push(issue);
    } else {
      items.push({ image: path, cls: c });
    }
  }
  return { items, issues };
}
