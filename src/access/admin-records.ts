import { randomId } from '../core/ids.js';
import { GatewayError, invalidRequest } from '../errors/index.js';
import type { EntityRecord } from '../store/index.js';
import type { EntityPatch, TenantInput } from './admin-inputs.js';
import type { Limits } from './policy.js';
import { merged } from '../core/objects.js';

/** The entity-record helpers the admin resources share: lookup, new ids, patches, conflicts. */

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The record, or a 404 `not_found` error naming it. */
export const found = <T>(value: T | undefined, what: string, id: string): T => {
  if (value === undefined)
    throw new GatewayError(`No ${what} with id "${id}"`, {
      code: 'not_found',
      status: 404,
      errorClass: 'not_found',
      retryable: false,
      failover: false,
    });
  return value;
};

/** The given id (checked) or a new random one with `prefix`. */
export const newId = (given: string | undefined, prefix: string) => {
  if (given === undefined) return randomId(prefix, 16);
  if (!ID.test(given))
    throw invalidRequest(
      'id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'id',
    );
  return given;
};

/** `record` with `patch` applied (limits field by field) and `updatedAt` set to `now`. */
export const applied = <R extends EntityRecord>(record: R, patch: EntityPatch, now: number): R => {
  const limits: Limits = { ...record.policy.limits };
  for (const [field, value] of Object.entries(patch.limits ?? {}) as Array<
    [keyof Limits, number | null | undefined]
  >) {
    if (value === null) delete limits[field];
    else if (value !== undefined) limits[field] = value;
  }
  return merged(record, {
    name: patch.name ?? record.name,
    status: patch.status ?? record.status,
    metadata: patch.metadata === undefined ? record.metadata : patch.metadata,
    tags: patch.tags ?? record.tags,
    policy: {
      limits,
      budget: patch.budget === undefined ? record.policy.budget : patch.budget,
      budgetRules:
        patch.budgetRules === undefined
          ? record.policy.budgetRules
          : (patch.budgetRules ?? undefined),
    },
    updatedAt: now,
  }) as unknown as R; // R's own fields stay: only these are replaced
};

/** A new active entity record from `input`. */
export const blank = (id: string, input: TenantInput, now: number): EntityRecord =>
  applied(
    {
      id,
      name: input.name,
      status: 'active',
      metadata: null,
      tags: [],
      policy: { limits: {}, budget: null },
      createdAt: now,
      updatedAt: now,
    },
    input,
    now,
  );

/** The 409 error for an id already taken. */
export const conflict = (what: string, id: string) =>
  new GatewayError(`A ${what} with id "${id}" already exists`, {
    code: 'invalid_request',
    status: 409,
    errorClass: 'conflict',
    param: 'id',
    retryable: false,
    failover: false,
  });
