// Errors raised while reading Darknet files. Each one names where the problem is: `file:line` for a
// .cfg file, `file` plus byte counts for a .weights file, so a user can go straight to the culprit.

/** A .cfg problem. `message` starts with `file:line: ` (or `file: ` when no line applies). */
export class DarknetCfgError extends Error {
  readonly file: string;
  /** 1-based source line, or 0 when the problem is not tied to one line (e.g. an override). */
  readonly line: number;
  constructor(file: string, line: number, detail: string) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    this.name = 'DarknetCfgError';
    this.file = file;
    this.line = line;
  }
}

/** A .weights problem (size mismatch, bad header, tensor of the wrong length). */
export class DarknetWeightsError extends Error {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'DarknetWeightsError';
    this.file = file;
  }
}
