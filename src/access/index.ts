export { createAccess, isLoopback } from './access.js';
export type { Access } from './access.js';
