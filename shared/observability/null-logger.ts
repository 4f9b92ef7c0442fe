// A Logger that drops everything, without loading pino: the default of code that Lambda
// bundles load at start (shared/intake), where the logger itself is imported on first use.
import type { Logger } from './logger.js';

const drop = (): void => undefined;

// The Logger type is pino's, whose child() returns a full pino logger; this one returns
// itself, which offers every method the core calls.
export const nullLogger = { info: drop, warn: drop, error: drop, debug: drop, child: () => nullLogger } as unknown as Logger;
