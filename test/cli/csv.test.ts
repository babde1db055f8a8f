import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvError, csvField, csvLine, parseCsv } from '../../src/cli/csv.js';

/** The RFC 4180 reader and writer behind `switchyard keys import`. */

const fields = (text: string) => parseCsv(text).map((record) => record.fields);

describe('parseCsv', () => {
  it('reads plain records with LF, CRLF and CR line ends, and a last line without one', () => {
    expect(fields('a,b,c\nd,e,f')).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    expect(fields('a,b\r\nc,d\r\n')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(fields('a,b\rc,d\r')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('keeps empty fields, including leading and trailing ones', () => {
    expect(fields(',a,,\n')).toEqual([['', 'a', '', '']]);
    expect(fields('x,\n')).toEqual([['x', '']]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(fields('"a,b","say ""hi""",""\n"two\r\nlines",x\n')).toEqual([
      ['a,b', 'say "hi"', ''],
      ['two\r\nlines', 'x'],
    ]);
  });

  it('numbers each record by the line it starts on, skipping empty lines', () => {
    const records = parseCsv('h1,h2\n\n"multi\nline",1\r\n\r\nlast,2\n');
    expect(records.map((record) => record.line)).toEqual([1, 3, 6]);
    expect(records[1]!.fields).toEqual(['multi\nline', '1']);
  });

  it('drops a leading byte order mark and reads an empty text as no records', () => {
    expect(fields('\uFEFFproject,name\n')).toEqual([['project', 'name']]);
    expect(fields('')).toEqual([]);
    expect(fields('\n\r\n')).toEqual([]);
  });

  it('refuses malformed quoting with the line of the problem', () => {
    const error = (text: string) => {
      try {
        parseCsv(text);
      } catch (caught) {
        expect(caught).toBeInstanceOf(CsvError);
        return { line: (caught as CsvError).line, message: (caught as CsvError).message };
      }
      throw new Error('no error');
    };
    expect(error('a,b\nc,"open\nstill open')).toMatchObject({
      line: 2,
      message: expect.stringMatching(/^line 2: unterminated quoted field/),
    });
    expect(error('a\n"x"y,z')).toMatchObject({
      line: 2,
      message: expect.stringMatching(/after a closing quote/),
    });
    expect(error('a\nb\nO"Brien,1')).toMatchObject({
      line: 3,
      message: expect.stringMatching(/quote inside an unquoted field/),
    });
  });
});

describe('csvField and csvLine', () => {
  it('quotes only what needs quoting', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvLine(['1', 'key_1', 'p', 'a, b', 'sk-sy-x'])).toBe('1,key_1,p,"a, b",sk-sy-x\n');
  });

  it('round-trips any table of strings through csvLine and parseCsv', () => {
    const row = fc.array(
      fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', 'é', '=') }),
      { minLength: 2, maxLength: 5 },
    );
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 6 }), (rows) => {
        const text = rows.map(csvLine).join('');
        // A record of one empty field is an empty line, which the reader skips.
        expect(fields(text)).toEqual(rows);
      }),
    );
  });
});
