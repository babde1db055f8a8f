import type { NewItem } from '../../../store/index.js';
import { expiry } from '../../deps.js';
import type { ResponseObject } from '../../types.js';
import type { AgentRun } from './agent-run.js';
import { RunStopped } from './errors.js';

/**
 * Ends the run with `response`: emits its terminal event, checkpoints the end (fenced: an owner
 * that lost the lease stops here) and stores the response and its items.
 */
export async function finish(run: AgentRun, response: ResponseObject): Promise<ResponseObject> {
  const { state, checkpoints, emit } = run;
  // The Responses stream has no event of its own for a cancelled response (`response.cancelled`
  // is a webhook event only, and openai-node's stream helper throws on event types it does not
  // know), so a cancelled run ends with `response.failed` carrying the Response, whose status is
  // `cancelled` and whose error is null: followers see a terminal event, and the final snapshot
  // is the cancelled Response that GET returns.
  const type =
    response.status === 'completed'
      ? 'response.completed'
      : response.status === 'incomplete'
        ? 'response.incomplete'
        : 'response.failed';
  emit({ type, response });
  state.done = true;
  // Lost the lease while ending (stalled past it): the new owner finishes and stores the run;
  // storing it here as well would store it twice.
  if ((await checkpoints.save(state, response)).stop === 'lost') throw new RunStopped('lost');
  await persist(run, response);
  await checkpoints.persisted?.();
  return response;
}

/** Stores the final response and the items of this request (as `store` and the conversation say). */
async function persist(run: AgentRun, response: ResponseObject): Promise<void> {
  const { deps, params, request, state } = run;
  const ok = response.status === 'completed' || response.status === 'incomplete';
  if (!params.store && (!ok || params.conversationId === null)) return;
  const items: NewItem[] = [];
  for (const item of state.input)
    items.push({ id: String(item.id), type: item.type, kind: 'input', body: item });
  if (ok)
    for (const item of response.output)
      items.push({ id: String(item.id), type: item.type, kind: 'output', body: item });
  const now = deps.clock();
  await deps.repository.saveResponse({
    tenantId: request.principal.tenantId,
    now,
    response: params.store
      ? {
          id: response.id,
          previousResponseId: params.previousResponseId,
          conversationId: params.conversationId,
          status: response.status,
          model: params.model,
          createdAt: now,
          expiresAt: expiry(now, deps.retention.retentionDays),
          body: response,
        }
      : undefined,
    items,
    events: JSON.stringify(state.events),
    conversationId: ok ? (params.conversationId ?? undefined) : undefined,
  });
}
