export { ALTERNATIVE_SECTIONS, alternativeConfig, mergeAlternative } from './alternative.js';
export { createDryLedger } from './dry-ledger.js';
export type { DryLedger, DryPosting } from './dry-ledger.js';
export { whatIfCsv, whatIfJson, whatIfLines } from './render.js';
export type { WhatIfLine } from './render.js';
export { NOT_SERVED, REFUSED, runWhatIf } from './replay.js';
export type { ScenarioFigures, WhatIfOptions, WhatIfPeriod, WhatIfReport } from './replay.js';
export { createChooser } from './routing.js';
export type { Chooser, RouteChoice } from './routing.js';
