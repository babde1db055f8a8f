import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { checkUrl, guardedAgent, guardedFetch, type OutboundPolicy } from './ssrf.js';

/**
 * A short-lived MCP client for one server of one run: connects with the official SDK over
 * Streamable HTTP (falling back to the legacy SSE transport), with every request going through
 * the SSRF-guarded fetch. Secret headers are passed to the transport only; they are never put
 * in items, events or logs.
 */

/** A tool as `mcp_list_tools` shows it. */
export interface McpToolInfo {
  name: string;
  input_schema: Record<string, unknown>;
  description?: string | null;
  annotations?: Record<string, unknown> | null;
}

/** A connected server. */
export interface McpSession {
  listTools(): Promise<McpToolInfo[]>;
  /** Calls a tool; resolves with its text output, or rejects (tool error or transport error). */
  callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

export interface McpConnectOptions {
  url: string;
  headers: Record<string, string>;
  policy: OutboundPolicy;
  /** Per-request timeout (list, call), ms. */
  timeoutMs: number;
}

/** Thrown when the tool itself reports an error (`isError: true`). */
export class McpToolError extends Error {}

export async function connectMcp(options: McpConnectOptions): Promise<McpSession> {
  const url = checkUrl(options.policy, options.url);
  // The session's own connection pool, closed with it: left open, every run's idle sockets
  // lingered until the keep-alive timeout (200 concurrent runs, 200 pools).
  const dispatcher = guardedAgent(options.policy);
  const fetch = guardedFetch(options.policy, dispatcher);
  const requestInit = { headers: options.headers };
  let client = new Client({ name: 'switchyard', version: '0.1.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit, fetch }), {
      timeout: options.timeoutMs,
    });
  } catch (streamableError) {
    // Servers that only speak the 2024-11-05 HTTP+SSE transport.
    client = new Client({ name: 'switchyard', version: '0.1.0' });
    try {
      await client.connect(
        new SSEClientTransport(url, { requestInit, fetch, eventSourceInit: { fetch } as never }),
        { timeout: options.timeoutMs },
      );
    } catch {
      await dispatcher.destroy().catch(() => undefined);
      throw streamableError;
    }
  }
  return {
    async listTools() {
      const tools: McpToolInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, {
          timeout: options.timeoutMs,
        });
        for (const tool of page.tools) {
          tools.push({
            name: tool.name,
            input_schema: tool.inputSchema as Record<string, unknown>,
            description: tool.description ?? null,
            annotations: (tool.annotations as Record<string, unknown> | undefined) ?? null,
          });
        }
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    },
    async callTool(name, args, signal) {
      const result = await client.callTool({ name, arguments: args }, undefined, {
        timeout: options.timeoutMs,
        ...(signal ? { signal } : {}),
      });
      const text = toolText(result);
      if (result.isError === true) throw new McpToolError(text);
      return text;
    },
    async close() {
      await client.close().catch(() => undefined);
      await dispatcher.destroy().catch(() => undefined);
    },
  };
}

function toolText(result: Record<string, unknown>): string {
  const content = result['content'];
  if (Array.isArray(content)) {
    const parts = content.map((part: Record<string, unknown>) =>
      part['type'] === 'text' ? String(part['text']) : JSON.stringify(part),
    );
    return parts.join('\n');
  }
  if (result['structuredContent'] !== undefined) return JSON.stringify(result['structuredContent']);
  if (result['toolResult'] !== undefined) return JSON.stringify(result['toolResult']);
  return '';
}
