// The text layer of a Darknet .cfg file: sections and `key=value` lines, nothing typed yet.
//
// Darknet's reader (read_cfg + strip + read_option) deletes every space and tab of a line before
// looking at it, so `anchors =  1.08, 1.19` is `anchors=1.08,1.19` and ` batch=1` is `batch=1`. A
// line whose first remaining character is `#` or `;` is a comment; `[name]` opens a section; any
// other line splits at its first `=`. We do the same, with three deliberate differences, all of
// which turn a silently misread file into an error:
//   * a line with no `=`, an empty key or an empty value is an error (Darknet prints and goes on);
//   * a key repeated in one section is an error (Darknet takes the first and ignores the rest);
//   * a trailing comment (`size=3 # note`) is cut at the `#`/`;`. Darknet keeps `3#note` and then
//     atoi() reads 3, so numbers come out the same; only string values would differ.

import { DarknetCfgError } from './errors.js';

export interface RawEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line in the file. */
  readonly line: number;
}

export interface RawSection {
  /** The name between the brackets, e.g. `convolutional`. */
  readonly name: string;
  /** 1-based line of the `[name]` header. */
  readonly line: number;
  readonly entries: readonly RawEntry[];
}

const SECTION_RE = /^\[([A-Za-z0-9_]+)\]$/;
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits cfg text into sections, in file order (repeated section names stay separate). */
export function lexCfg(text: string, file: string): RawSection[] {
  const sections: { name: string; line: number; entries: RawEntry[] }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const s = (lines[i] as string).replace(/\s+/g, '');
    if (s === '' || s[0] === '#' || s[0] === ';') continue;
    if (s[0] === '[') {
      const m = SECTION_RE.exec(s);
      if (m === null) throw new DarknetCfgError(file, lineNo, `malformed section header '${s}' (expected [name])`);
      sections.push({ name: m[1] as string, line: lineNo, entries: [] });
      continue;
    }
    const eq = s.indexOf('=');
    if (eq < 0) throw new DarknetCfgError(file, lineNo, `expected key=value, got '${s}'`);
    const key = s.slice(0, eq);
    let value = s.slice(eq + 1);
    const comment = value.search(/[#;]/);
    if (comment >= 0) value = value.slice(0, comment);
    if (!KEY_RE.test(key)) throw new DarknetCfgError(file, lineNo, `bad key '${key}' in '${s}'`);
    if (value === '') throw new DarknetCfgError(file, lineNo, `key '${key}' has an empty value`);
    const current = sections[sections.length - 1];
    if (current === undefined) throw new DarknetCfgError(file, lineNo, `'${key}=${value}' appears before the first [section]`);
    const prev = current.entries.find((e) => e.key === key);
    if (prev !== undefined) {
      throw new DarknetCfgError(file, lineNo, `key '${key}' repeated in [${current.name}] (first set at line ${prev.line})`);
    }
    current.entries.push({ key, value, line: lineNo });
  }
  return sections;
}
