/**
 * One CSV field as written by every CSV Switchyard produces (statements, the usage export, the
 * CLI's secrets file): RFC 4180, quoted with doubled inner quotes when it holds a comma, a quote
 * or a line break, and also when it starts or ends with white space, which spreadsheets would
 * otherwise trim.
 * @example csvField('a,"b"') // '"a,""b"""'
 */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
