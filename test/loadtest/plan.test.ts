import {
  buildPlan,
  buildThresholds,
  parseDurationSeconds,
  parseMix,
  plannedRateAt,
  SCENARIOS,
} from '../../loadtest/lib/plan';
import { formatTargets, parseTarget, parseTargets, pickTarget } from '../../loadtest/lib/targets';

describe('targets', () => {
  test('one URL, URL=weight pairs, comma lists; trailing slashes dropped', () => {
    expect(parseTarget('http://127.0.0.1:8080/')).toEqual({ url: 'http://127.0.0.1:8080', weight: 1 });
    expect(parseTarget('https://lb1.example.com=3')).toEqual({ url: 'https://lb1.example.com', weight: 3 });
    expect(parseTarget('http://h/path?a=b=2')).toEqual({ url: 'http://h/path?a=b', weight: 2 });
    expect(parseTargets('http://a=1,http://b=2')).toEqual([
      { url: 'http://a', weight: 1 },
      { url: 'http://b', weight: 2 },
    ]);
    expect(parseTargets(formatTargets([{ url: 'http://a', weight: 0.5 }]))).toEqual([{ url: 'http://a', weight: 0.5 }]);
  });

  test('bad targets say what to write instead', () => {
    expect(() => parseTarget('lb1:8080')).toThrow('write it as http://HOST:PORT or http://HOST:PORT=WEIGHT');
    expect(() => parseTarget('http://a=0')).toThrow('must be a positive number');
    expect(() => parseTargets([])).toThrow('no target given');
  });

  test('pickTarget splits by weight the way weighted DNS does', () => {
    const targets = parseTargets(['http://a=1', 'http://b=2', 'http://c=1']);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 4000; i++) {
      const t = pickTarget(targets, i / 4000).url; // evenly spread r: exact shares
      counts[t] = (counts[t] ?? 0) + 1;
    }
    expect(counts).toEqual({ 'http://a': 1000, 'http://b': 2000, 'http://c': 1000 });
    expect(pickTarget(targets, 0.9999999).url).toBe('http://c');
  });
});

describe('plans', () => {
  test('the rush default is shaped on the study: 200 → 1,000 → 4,000 users a second and back', () => {
    const plan = buildPlan('rush');
    expect(plan.startRate).toBe(200);
    expect(plan.stages.map((s) => s.target)).toEqual([200, 1000, 1000, 4000, 4000, 1000, 200]);
    expect(plan.totalSeconds).toBe(600);
    expect(plan.peak).toBe(4000);
    expect(plan.maxVUs).toBe(5000);
  });

  test('stage durations always add up to the total, for every scenario and odd durations', () => {
    for (const scenario of SCENARIOS) {
      for (const duration of ['7s', '13s', '1m', '2m17s', '1h']) {
        const plan = buildPlan(scenario, { peak: 50, duration });
        const sum = plan.stages.reduce((s, st) => s + parseDurationSeconds(st.duration), 0);
        expect(sum).toBe(parseDurationSeconds(duration));
        expect(plan.stages.every((st) => /^\d+s$/.test(st.duration) && parseDurationSeconds(st.duration) >= 1)).toBe(
          true,
        );
      }
    }
  });

  test('planned rate follows the ramps linearly', () => {
    const plan = buildPlan('browse', { peak: 100, duration: '100s' }); // 10 → 100 over 80 s, hold 20 s
    expect(plannedRateAt(plan, 0)).toBe(10);
    expect(plannedRateAt(plan, 40)).toBe(55);
    expect(plannedRateAt(plan, 90)).toBe(100);
    expect(plannedRateAt(plan, 101)).toBe(0);
  });

  test('durations, mixes and thresholds: parsed, or refused with what to write', () => {
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('90')).toBe(90);
    expect(() => parseDurationSeconds('ten minutes')).toThrow('write it like 45s, 10m or 1h30m');
    expect(() => buildPlan('rush', { duration: '5s' })).toThrow('at least 7s');
    expect(() => buildPlan('soak', { peak: 0 })).toThrow('at least 1 request per second');
    expect(parseMix('66:34')).toEqual({ read: 0.66, write: 0.34 });
    expect(parseMix('60:40')).toEqual({ read: 0.6, write: 0.4 });
    expect(() => parseMix('half')).toThrow('use e.g. 50:50, 66:34, 60:40');
    expect(buildThresholds({ p95Ms: 200, maxErrorRate: 0 })).toEqual({
      http_req_duration: ['p(95)<200'],
      http_req_failed: ['rate<=0'],
      oversold_courses: ['count<1'],
      oversold_check_failed: ['count<1'],
    });
    expect(() => buildThresholds({ maxErrorRate: 5 })).toThrow('between 0 and 1');
  });
});
