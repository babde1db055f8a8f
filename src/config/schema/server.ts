import { z } from 'zod';
import { isAddressOrCidr } from '../../core/addresses.js';

/** `server`: the HTTP listener, its limits and its shutdown. */
export const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535).default(8080),
  /**
   * Processes serving the one port (node:cluster): a count, or `auto` for the CPUs this
   * process may use (affinity and cgroup quota). Default 1. See src/cluster/primary.ts.
   */
  workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** How long SIGTERM waits for in-flight requests before closing them, in ms. */
  drainTimeoutMs: z.number().int().nonnegative().default(30_000),
  /**
   * Proxies whose X-Forwarded-For is believed: addresses or CIDRs (`127.0.0.1`,
   * `10.0.0.0/8`). Default none: the socket's address is the client, and a loopback peer
   * that forwards for someone gets no loopback rights.
   */
  trustProxy: z
    .array(
      z.string().refine(isAddressOrCidr, {
        message: 'must be an IP address or a CIDR block such as 10.0.0.0/8',
      }),
    )
    .default([]),
  /**
   * Listen on a non-loopback address without auth.masterKey (virtual keys only; the admin
   * API stays loopback-only). Default false: such a start is refused.
   */
  allowNoMasterKey: z.boolean().default(false),
  /**
   * After SIGTERM, how long /readyz answers 503 while the listener still serves, so load
   * balancers stop sending new connections before it closes, in ms. Default 5000 (two
   * failed checks at a 2 s interval plus propagation; docs/operations.md).
   */
  shutdownDelayMs: z.number().int().nonnegative().default(5_000),
  /**
   * A stable name of this replica (a StatefulSet pod name, `${HOSTNAME}`): restarted under
   * the same name after a crash, it takes its background runs back at once instead of
   * waiting for their leases. Two live processes must never share one.
   */
  replicaId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-" (at most 64)')
    .optional(),
  /** Time a client has to send a request's headers (from the connection, or the next request's first byte), ms. */
  headersTimeoutMs: z.number().int().positive().default(30_000),
  /** Longest silence while a request body is being received, ms. */
  bodyIdleTimeoutMs: z.number().int().positive().default(30_000),
  /** How long an idle connection is kept open for the next request, ms. */
  keepAliveTimeoutMs: z.number().int().positive().default(65_000),
  /** Largest request head (request line and headers; HTTP/2 header list), bytes. */
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(16_384),
  /** Most client connections open at once; more are closed as they arrive. */
  maxConnections: z.number().int().positive().default(10_000),
  /** Deepest nesting of a JSON request body (objects and arrays); deeper → 400 json_too_deep. */
  maxJsonDepth: z.number().int().min(8).max(1000).default(128),
});
