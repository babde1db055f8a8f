/**
 * Object spread without V8 11's slow path (Node 20).
 *
 * A literal that starts with a spread and goes on (`{ ...a, b: 1 }`, `{ ...a, ...b }`) is built
 * by cloning `a` and then defining each further member on the clone, and on Node 20 each of those
 * definitions takes V8's runtime path: about 0.6 µs for the first member and 0.9 µs for each one
 * after it (`{ ...headers, four: members }` took 3.7 µs, where `{ ...headers }` alone takes
 * 0.02 µs). A literal whose first member is not a spread is built the fast way, so the same
 * object made as `{ __proto__: Object.prototype, ...a, ...b }` takes 0.08 µs: the prototype is
 * the one every literal has, and spreads define properties (an own `__proto__` key of a parsed
 * body stays an own property, as with the plain spread). bench/object-spread.ts measures both.
 *
 * TypeScript reads `__proto__` in a literal as a property, so the literal lives here, behind
 * types that say what the spread would have made. `test/house/object-spread.test.ts` keeps
 * literals that start with a spread and go on out of the request path.
 */

const OBJECT_PROTOTYPE = Object.prototype;

/** A part of {@link merged}: an object, or nothing (as `...(condition && { key })` spreads). */
type Part = object | false | null | undefined | '' | 0;

/** The own properties of a spread part (nothing for a falsy one). */
type Own<T> = T extends object ? T : {};

/** The keys `T` may lack. */
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];

/** The keys `T` surely has. */
type RequiredKeys<T> = Exclude<keyof T, OptionalKeys<T>>;

/** A's properties but those `B` surely has (index signatures stay), for each member of a union. */
type Kept<A, B> = A extends unknown
  ? { [K in keyof A as K extends RequiredKeys<B> ? never : K]: A[K] }
  : never;

/**
 * Close to the type TypeScript gives `{ ...a, ...b }`: a's properties but those b surely has,
 * and b's (where b's is optional, the intersection keeps a's type). `B` stays whole, so a
 * declared result type still guides the inference of b's literal types.
 */
type Spread<A, B> = Kept<Own<A>, Own<B>> & Own<B>;

/** `{ ...a, ...b }`, made as fast as a literal that does not start with a spread. */
export function merged<A extends Part, B extends Part>(a: A, b: B): Spread<A, B>;
/** `{ ...a, ...b, ...c }`. */
export function merged<A extends Part, B extends Part, C extends Part>(
  a: A,
  b: B,
  c: C,
): Spread<Spread<A, B>, C>;
export function merged(a: Part, b: Part, c?: Part): object {
  return { __proto__: OBJECT_PROTOTYPE, ...a, ...b, ...c };
}

/**
 * `{ ...a }` for a copy that gets more properties afterwards. A property added to a plain spread
 * copy takes the same slow path as a member after a spread in a literal (0.8 µs each on
 * Node 20); added to this copy, it takes 0.03 µs. A copy that is only read stays `{ ...a }`,
 * which is the fastest copy of all.
 */
export function copied<T extends object>(a: T): T {
  return { __proto__: OBJECT_PROTOTYPE, ...a } as unknown as T;
}

/** A plain JSON-style object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
