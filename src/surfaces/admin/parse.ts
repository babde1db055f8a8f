import { z } from 'zod';
import type { EntityPatch, KeyPatch } from '../../access/index.js';
import { MAX_BUDGET_MICROS } from '../../access/index.js';
import { invalidRequest } from '../../errors/index.js';
import { merged } from '../../core/objects.js';

/** Admin request bodies: snake_case JSON, validated with zod, turned into access inputs. */

const count = z.number().int().positive().max(2_000_000_000);

const limitsSchema = z.strictObject({
  rpm: count.nullable().optional(),
  tpm: count.nullable().optional(),
  max_concurrent: count.nullable().optional(),
});

const micros = z
  .union([
    z.string().regex(/^\d+$/, 'must be a whole number of µUSD'),
    z.number().int().nonnegative(),
  ])
  .transform((value) => BigInt(value))
  .refine((value) => value <= MAX_BUDGET_MICROS, {
    message: `must be at most ${MAX_BUDGET_MICROS} µUSD`,
  });

const budgetSchema = z.strictObject({
  amount_micros: micros,
  period: z.enum(['day', 'week', 'month', 'total']),
  mode: z.enum(['hard', 'soft']).default('hard'),
  alert_percent: z.number().int().min(1).max(100).nullable().optional(),
});

const modelPattern = z.string().regex(/^[^*]+\*?$|^\*$/, 'a model name, or a prefix ending in *');

/** A budget per model pattern and/or per end user (access/buckets.ts). */
const budgetRuleSchema = budgetSchema.extend({
  models: z.array(modelPattern).min(1).max(50).nullable().optional(),
  per_user: z.boolean().default(false),
});

/** An instant: ISO string or epoch ms. */
const instant = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((value, context) => {
    const ms = typeof value === 'number' ? value : Date.parse(value);
    if (Number.isNaN(ms)) {
      context.addIssue({
        code: 'custom',
        message: 'must be an ISO date-time or epoch milliseconds',
      });
      return z.NEVER;
    }
    return ms;
  });

const entityFields = {
  name: z.string().min(1).max(200).optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  tags: z.array(z.string().min(1).max(100)).max(50).optional(),
  limits: limitsSchema.optional(),
  budget: budgetSchema.nullable().optional(),
  budget_rules: z
    .array(budgetRuleSchema)
    .max(50)
    .superRefine((rules, context) => {
      // Two rules with one period, model set and per-user flag would count into one bucket.
      const seen = new Set<string>();
      rules.forEach((rule, index) => {
        const key = `${rule.period}|${rule.per_user}|${[...(rule.models ?? ['*'])].sort().join(',')}`;
        if (seen.has(key))
          context.addIssue({
            code: 'custom',
            path: [index],
            message: 'duplicates an earlier rule (same period, models and per_user)',
          });
        seen.add(key);
      });
    })
    .nullable()
    .optional(),
};

const keyFields = merged(entityFields, {
  allowed_models: z.array(modelPattern).min(1).nullable().optional(),
  expires_at: instant.nullable().optional(),
  include_cost: z.boolean().optional(),
});

const tenantCreate = z.strictObject({
  id: z.string().optional(),
  ...entityFields,
  name: z.string().min(1).max(200),
});
const projectCreate = z.strictObject({
  id: z.string().optional(),
  tenant_id: z.string().min(1),
  ...entityFields,
  name: z.string().min(1).max(200),
});
const keyCreate = z.strictObject({ project_id: z.string().min(1), ...keyFields });
const entityUpdate = z.strictObject(
  merged(entityFields, {
    status: z.enum(['active', 'disabled']).optional(),
  }),
);
const keyUpdate = z.strictObject(
  merged(keyFields, {
    status: z.enum(['active', 'disabled']).optional(),
  }),
);
const rotate = z.strictObject({
  grace_seconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(3600),
});

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join('.');
  throw invalidRequest(path ? `${path}: ${issue.message}` : issue.message, path || null);
}

type EntityFields = z.output<typeof entityUpdate>;

function patchOf(body: Partial<EntityFields>): EntityPatch {
  const patch: EntityPatch = {};
  if (body.name !== undefined) patch.name = body.name;
  if (body.status !== undefined) patch.status = body.status;
  if (body.metadata !== undefined) patch.metadata = body.metadata;
  if (body.tags !== undefined) patch.tags = body.tags;
  if (body.limits !== undefined)
    patch.limits = {
      rpm: body.limits.rpm,
      tpm: body.limits.tpm,
      maxConcurrent: body.limits.max_concurrent,
    };
  if (body.budget !== undefined) {
    patch.budget = body.budget && {
      amountMicros: body.budget.amount_micros,
      period: body.budget.period,
      mode: body.budget.mode,
      ...(body.budget.alert_percent == null ? {} : { alertPercent: body.budget.alert_percent }),
    };
  }
  if (body.budget_rules !== undefined) {
    patch.budgetRules =
      body.budget_rules?.map((rule) => ({
        models: rule.models ?? null,
        perUser: rule.per_user,
        amountMicros: rule.amount_micros,
        period: rule.period,
        mode: rule.mode,
        ...(rule.alert_percent == null ? {} : { alertPercent: rule.alert_percent }),
      })) ?? null;
  }
  return patch;
}

function keyPatchOf(body: z.output<typeof keyUpdate>): KeyPatch {
  const patch: KeyPatch = patchOf(body);
  if (body.allowed_models !== undefined) patch.allowedModels = body.allowed_models;
  if (body.expires_at !== undefined) patch.expiresAt = body.expires_at;
  if (body.include_cost !== undefined) patch.includeCost = body.include_cost;
  return patch;
}

/** POST /admin/v1/tenants body. */
export function parseTenantCreate(value: unknown) {
  const body = parse(tenantCreate, value);
  return merged(patchOf(body), { id: body.id, name: body.name });
}

/** POST /admin/v1/projects body. */
export function parseProjectCreate(value: unknown) {
  const body = parse(projectCreate, value);
  return merged(patchOf(body), { id: body.id, name: body.name, tenantId: body.tenant_id });
}

/** POST /admin/v1/keys body. */
export function parseKeyCreate(value: unknown) {
  const body = parse(keyCreate, value);
  return merged(keyPatchOf(body), { projectId: body.project_id });
}

/** PATCH body of a tenant or project. */
export function parseEntityUpdate(value: unknown): EntityPatch {
  return patchOf(parse(entityUpdate, value));
}

/** PATCH body of a key. */
export function parseKeyUpdate(value: unknown): KeyPatch {
  return keyPatchOf(parse(keyUpdate, value));
}

/** POST /admin/v1/keys/:id/rotate body. */
export function parseRotate(value: unknown): { graceMs: number } {
  return { graceMs: parse(rotate, value).grace_seconds * 1000 };
}
