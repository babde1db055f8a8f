/** Injectable clock: milliseconds since the epoch. Tests pass a fixed or stepping one. */
export type Clock = () => number;

/** The system clock. */
export const systemClock: Clock = () => Date.now();
