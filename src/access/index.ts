export { createAccess, isLoopback } from './access.js';
export type { Access, Admission, AdmissionRequest } from './access.js';
