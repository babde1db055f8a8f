import type { Item } from '../../types.js';

/** Items without the loop's private fields (`_step`, `_http`). */
export function strip(item: Item): Item {
  const { _step: _unused, _http: _unusedHttp, ...rest } = item;
  return rest as Item;
}

/** The output items without the loop's private fields (see {@link strip}). */
export function clean(items: Item[]): Item[] {
  return items.map(strip);
}
