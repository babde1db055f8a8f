import type { ChatInvocation } from './types.js';

/**
 * OpenRouter's request switch `usage: { include: true }` asks for `usage.cost` in the answer.
 * The field is Switchyard's to read, never forwarded: upstreams refuse unknown parameters.
 */
export function costSwitch(body: ChatInvocation['body']): {
  body: ChatInvocation['body'];
  asked: boolean;
} {
  const usage = body['usage'];
  if (usage === undefined) return { body, asked: false };
  const { usage: _dropped, ...rest } = body;
  const asked =
    typeof usage === 'object' &&
    usage !== null &&
    (usage as { include?: unknown }).include === true;
  return { body: rest as ChatInvocation['body'], asked };
}
