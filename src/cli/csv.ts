import { csvField } from '../core/csv.js';

/**
 * A small RFC 4180 CSV reader and writer for the CLI (`switchyard keys import`): comma-separated
 * fields, records ended by CRLF, LF or CR, fields in double quotes holding commas, line breaks
 * and doubled quotes (`""`). Strict where a lenient reader would guess: a quote inside an
 * unquoted field, text after a closing quote and an unterminated quote are errors with the line
 * they are on. A leading UTF-8 byte order mark is dropped; empty lines are skipped.
 */

/** One record and the (1-based) line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** A CSV syntax error at `line`. */
export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/**
 * Parses CSV text into records (the header, if any, is the first record).
 * @example parseCsv('a,b\r\n"x, y","say ""hi"""\n') // [{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['x, y', 'say "hi"'] }]
 * @throws CsvError on malformed quoting.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const length = text.length;
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;

  /** Consumes a line break at `at` (CRLF, LF or CR), if there is one. */
  const lineBreak = (): boolean => {
    const char = text[at];
    if (char === '\r') {
      at += text[at + 1] === '\n' ? 2 : 1;
    } else if (char === '\n') {
      at += 1;
    } else {
      return false;
    }
    line++;
    return true;
  };

  while (at < length) {
    if (lineBreak()) continue; // an empty line
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[at] === '"') {
        const opened = line;
        at++;
        for (;;) {
          if (at >= length)
            throw new CsvError('unterminated quoted field (a " is missing)', opened);
          const char = text[at]!;
          if (char === '"') {
            if (text[at + 1] === '"') {
              field += '"';
              at += 2;
              continue;
            }
            at++;
            break;
          }
          if (char === '\n' || (char === '\r' && text[at + 1] !== '\n')) line++;
          field += char;
          at++;
        }
        if (at < length && text[at] !== ',' && text[at] !== '\r' && text[at] !== '\n') {
          throw new CsvError(
            'unexpected text after a closing quote (quote the whole field and double the quotes inside)',
            line,
          );
        }
      } else {
        const begin = at;
        while (at < length && text[at] !== ',' && text[at] !== '\r' && text[at] !== '\n') {
          if (text[at] === '"')
            throw new CsvError(
              'a quote inside an unquoted field (quote the whole field and double the quotes inside)',
              line,
            );
          at++;
        }
        field = text.slice(begin, at);
      }
      fields.push(field);
      if (text[at] === ',') {
        at++;
        continue;
      }
      lineBreak();
      break;
    }
    records.push({ line: start, fields });
  }
  return records;
}

export { csvField };

/** One record as a CSV line ending in LF. */
export function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\n`;
}
