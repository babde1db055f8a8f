/** Thought signatures of the sandbox Gemini emulator: the signer's shape and the JSON it signs. */

export type Signer = (model: string, name: string, args: unknown) => string;

/** JSON with sorted keys, so a signature survives key reordering by clients. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
