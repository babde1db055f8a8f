import type { Handler, Route } from './types.js';

interface Compiled {
  segments: string[];
  handler: Handler;
  rest: boolean;
}

/** Matches method + path to a handler: static paths by map lookup, parameterised ones by segment. */
export interface RouteTable {
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string> } | { allowed: string[] } | undefined;
}

/** Compiles routes. `:name` segments capture (URI-decoded); a final `*` captures the rest as `params['*']`. */
export function createRouteTable(routes: Route[]): RouteTable {
  const exact = new Map<string, Map<string, Handler>>();
  const dynamic = new Map<string, Compiled[]>();
  for (const route of routes) {
    if (!route.path.includes(':') && !route.path.endsWith('*')) {
      let methods = exact.get(route.path);
      if (!methods) exact.set(route.path, (methods = new Map()));
      methods.set(route.method, route.handler);
      continue;
    }
    const segments = route.path.split('/').filter(Boolean);
    const rest = segments[segments.length - 1] === '*';
    if (rest) segments.pop();
    const list = dynamic.get(route.method) ?? [];
    list.push({ segments, handler: route.handler, rest });
    dynamic.set(route.method, list);
  }
  return {
    match(method, path) {
      const methods =
        exact.get(path) ?? exact.get(path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
      if (methods) {
        const handler = methods.get(method);
        return handler ? { handler, params: {} } : { allowed: [...methods.keys()] };
      }
      const parts = path.split('/').filter(Boolean);
      const allowed: string[] = [];
      for (const [routeMethod, list] of dynamic) {
        for (const route of list) {
          const params = matchSegments(route, parts);
          if (!params) continue;
          if (routeMethod === method) return { handler: route.handler, params };
          allowed.push(routeMethod);
        }
      }
      return allowed.length > 0 ? { allowed } : undefined;
    },
  };
}

function matchSegments(route: Compiled, parts: string[]): Record<string, string> | undefined {
  if (route.rest ? parts.length < route.segments.length : parts.length !== route.segments.length)
    return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    const part = parts[i]!;
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (segment !== part) return undefined;
  }
  if (route.rest) params['*'] = parts.slice(route.segments.length).join('/');
  return params;
}
