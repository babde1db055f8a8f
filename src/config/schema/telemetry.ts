import { z } from 'zod';

/** Metrics, traces, request logs and debug body capture (see docs/operations.md). */
export const telemetrySchema = z.strictObject({
  /** Prometheus metrics at GET /metrics. Default true. */
  metrics: z.boolean().default(true),
  /** Serve /metrics without a key (for scrapers on a private network). Default false: the master key is needed, as for /admin. */
  metricsPublic: z.boolean().default(false),
  /** OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`); traces are recorded only when set. Env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  otlpEndpoint: z.url().optional(),
  /** Extra headers for the OTLP exporter (auth). */
  otlpHeaders: z.record(z.string(), z.string()).optional(),
  /** Share of new traces recorded, 0–1 (a client's sampled flag is honoured). Default 1. */
  sampleRatio: z.number().min(0).max(1).default(1),
  /** `service.name` of the traces. Default `switchyard`. */
  serviceName: z.string().default('switchyard'),
  /** Per-minute and per-hour usage roll-ups that keep the dashboard fast. Default true. */
  rollups: z.boolean().default(true),
  /** Debug storage of request and response bodies, redacted. Off by default. */
  bodies: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Hours a stored body is kept. Default 24. */
      retentionHours: z.number().positive().default(24),
      /** Bytes kept of each body (the rest is cut). Default 65536. */
      maxBytes: z.number().int().positive().default(65_536),
    })
    .prefault({}),
});
