import { describe, expect, it } from 'vitest';
import { CronConversionError, toEventBridgeCron } from '../../infra/aws/cron.js';

describe('toEventBridgeCron: 5-field cron -> EventBridge 6-field cron', () => {
  it.each([
    ['*/30 * * * *', '0/30 * * * ? *'],
    ['0 3 * * *', '0 3 * * ? *'],
    ['15 2 1 * *', '15 2 1 * ? *'],
    ['0 9 * * 1-5', '0 9 ? * MON-FRI *'],
    ['0 0 * * 0', '0 0 ? * SUN *'],
    ['0 0 * * 7', '0 0 ? * SUN *'],
    ['0 0 * * 5-7', '0 0 ? * SUN,FRI,SAT *'],
    ['0 0 * * mon,wed,fri', '0 0 ? * MON,WED,FRI *'],
    ['0 0 * * */2', '0 0 ? * SUN,TUE,THU,SAT *'],
    ['0 0 * * 0-6', '0 0 * * ? *'],
    ['0 12 */2 jan-mar *', '0 12 1/2 1-3 ? *'],
    ['5,35 8-18/2 * * *', '5,35 8-18/2 * * ? *'],
    ['@daily', '0 0 * * ? *'],
    ['@hourly', '0 * * * ? *'],
    ['@weekly', '0 0 ? * SUN *'],
  ])('%s -> %s', (cron, expected) => {
    expect(toEventBridgeCron(cron)).toBe(expected);
  });

  it.each([
    ['* * * *', /expected 5 fields/],
    ['0 * * * * *', /expected 5 fields/],
    ['0 0 1 * 1', /both day-of-month and day-of-week/],
    ['60 * * * *', /minute 60 is outside 0-59/],
    ['0 24 * * *', /hour 24 is outside 0-23/],
    ['0 0 0 * *', /day of month 0 is outside 1-31/],
    ['0 0 * 13 *', /month 13 is outside 1-12/],
    ['0 0 * * 8', /day of week 8 is outside 0-7/],
    ['*/0 * * * *', /step 0/],
    ['30-10 * * * *', /descending range/],
    ['0 0 * * L', /not a valid day of week/],
  ])('rejects %s with a reason', (cron, reason) => {
    expect(() => toEventBridgeCron(cron)).toThrow(CronConversionError);
    expect(() => toEventBridgeCron(cron)).toThrow(reason);
  });
});
