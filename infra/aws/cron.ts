// ferry.yaml schedules are classic 5-field cron (what `ferry serve` runs with croner);
// EventBridge wants its own 6-field dialect: a year field, `?` in one of day-of-month /
// day-of-week, Sunday = 1 (or names), and `0/n` rather than `*/n` for steps.
// Pure: the stack and its tests call it with strings only.

export class CronConversionError extends Error {
  override readonly name = 'CronConversionError';
  constructor(readonly expression: string, reason: string) {
    super(`cannot convert schedule ${JSON.stringify(expression)} to an EventBridge cron: ${reason}`);
  }
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  names?: string[];
  /** First value of the field, used to turn `*\/n` into EventBridge's `min/n`. */
  stepStart: number;
}

const FIELDS: FieldSpec[] = [
  { label: 'minute', min: 0, max: 59, stepStart: 0 },
  { label: 'hour', min: 0, max: 23, stepStart: 0 },
  { label: 'day of month', min: 1, max: 31, stepStart: 1 },
  { label: 'month', min: 1, max: 12, names: MONTHS, stepStart: 1 },
];

/** The six EventBridge fields, e.g. "0/30 * * * ? *": use as `cron(${result})`. */
export function toEventBridgeCron(expression: string): string {
  const trimmed = expression.trim();
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronConversionError(expression, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  }
  const [minute, hour, dom, month, dow] = parts as [string, string, string, string, string];
  const converted = [minute, hour, dom, month].map((field, i) => convertField(expression, field, FIELDS[i]!));
  let ebDom = converted[2]!;
  let ebDow = convertDayOfWeek(expression, dow);

  // Classic cron ORs a restricted day-of-month with a restricted day-of-week; EventBridge
  // cannot say that, so refuse rather than schedule something different.
  const domAny = ebDom === '*';
  const dowAny = ebDow === '*';
  if (dowAny) ebDow = '?';
  else if (domAny) ebDom = '?';
  else throw new CronConversionError(expression, 'both day-of-month and day-of-week are restricted (cron means either; EventBridge supports only one)');

  return [converted[0], converted[1], ebDom, converted[3], ebDow, '*'].join(' ');
}

function convertField(expression: string, field: string, spec: FieldSpec): string {
  return field.split(',').map((item) => {
    if (item === '') throw new CronConversionError(expression, `empty list item in the ${spec.label} field`);
    const [range, step, extra] = item.split('/');
    if (extra !== undefined) throw new CronConversionError(expression, `bad step ${JSON.stringify(item)} in the ${spec.label} field`);
    if (step !== undefined && !/^\d+$/.test(step)) throw new CronConversionError(expression, `bad step ${JSON.stringify(item)} in the ${spec.label} field`);
    if (step !== undefined && Number(step) === 0) throw new CronConversionError(expression, `step 0 in the ${spec.label} field`);
    if (range === '*') return step === undefined ? '*' : `${spec.stepStart}/${step}`;
    const bounds = range!.split('-');
    if (bounds.length > 2) throw new CronConversionError(expression, `bad range ${JSON.stringify(range)} in the ${spec.label} field`);
    const values = bounds.map((b) => parseValue(expression, b, spec));
    if (values.length === 2 && values[0]! > values[1]!) {
      throw new CronConversionError(expression, `descending range ${JSON.stringify(range)} in the ${spec.label} field`);
    }
    const body = values.join('-');
    return step === undefined ? body : `${body}/${step}`;
  }).join(',');
}

function parseValue(expression: string, raw: string, spec: FieldSpec): number {
  const byName = spec.names?.indexOf(raw.toUpperCase()) ?? -1;
  if (byName >= 0) return byName + spec.min;
  if (!/^\d+$/.test(raw)) throw new CronConversionError(expression, `${JSON.stringify(raw)} is not a valid ${spec.label}`);
  const n = Number(raw);
  if (n < spec.min || n > spec.max) throw new CronConversionError(expression, `${spec.label} ${n} is outside ${spec.min}-${spec.max}`);
  return n;
}

/**
 * Day-of-week numbering differs (cron 0/7 = Sunday, EventBridge 1 = Sunday), and ranges
 * may wrap after the shift, so the field is expanded to the set of days and written back
 * with day names, which mean the same thing in both dialects.
 */
function convertDayOfWeek(expression: string, field: string): string {
  if (field === '*') return '*';
  const days = new Set<number>();
  for (const item of field.split(',')) {
    const [range, stepRaw, extra] = item.split('/');
    if (extra !== undefined || (stepRaw !== undefined && !/^[1-9]\d*$/.test(stepRaw))) {
      throw new CronConversionError(expression, `bad step ${JSON.stringify(item)} in the day of week field`);
    }
    const step = stepRaw === undefined ? 1 : Number(stepRaw);
    let from: number;
    let to: number;
    if (range === '*') {
      from = 0;
      to = 6;
    } else {
      const bounds = range!.split('-');
      if (bounds.length > 2 || bounds.some((b) => b === '')) throw new CronConversionError(expression, `bad range ${JSON.stringify(range)} in the day of week field`);
      from = parseDay(expression, bounds[0]!);
      to = bounds.length === 2 ? parseDay(expression, bounds[1]!) : stepRaw === undefined ? from : 6;
      // "5-7" is Friday..Sunday in cron (7 is Sunday again); keep the range ascending.
      if (bounds.length === 2 && to < from) throw new CronConversionError(expression, `descending range ${JSON.stringify(range)} in the day of week field`);
    }
    for (let d = from; d <= to; d += step) days.add(d % 7);
  }
  return compressDays([...days].sort((a, b) => a - b));
}

function parseDay(expression: string, raw: string): number {
  const byName = DAYS.indexOf(raw.toUpperCase());
  if (byName >= 0) return byName;
  if (!/^\d+$/.test(raw)) throw new CronConversionError(expression, `${JSON.stringify(raw)} is not a valid day of week (0-7 or SUN-SAT)`);
  const n = Number(raw);
  if (n > 7) throw new CronConversionError(expression, `day of week ${n} is outside 0-7`);
  return n;
}

function compressDays(days: number[]): string {
  if (days.length === 7) return '*';
  const out: string[] = [];
  let i = 0;
  while (i < days.length) {
    let j = i;
    while (j + 1 < days.length && days[j + 1] === days[j]! + 1) j++;
    if (j - i >= 2) out.push(`${DAYS[days[i]!]}-${DAYS[days[j]!]}`);
    else for (let k = i; k <= j; k++) out.push(DAYS[days[k]!]!);
    i = j + 1;
  }
  return out.join(',');
}
