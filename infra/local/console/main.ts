// The ferry console: a small single-page app over the admin API (preact + htm, bundled by
// scripts/build.mjs). Hash routes, polling every 2 s for live updates, the session cookie
// for auth (the token is posted once to /api/session and never kept by the page).
import { h, render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
// biome-ignore lint/suspicious/noExplicitAny: API answers are read loosely for display
type Json = Record<string, any>;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok) throw new HttpError(res.status, `${json.error ?? res.status}: ${json.detail ?? ''}`);
  return json;
}

const PAGES = [
  ['overview', 'Overview'], ['jobs', 'Jobs'], ['dlq', 'Dead letters'], ['policies', 'Policies'], ['registries', 'Registries'], ['deliveries', 'Deliveries'],
] as const;

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Loads `path` now and every 2 s (live updates), and again after an action. */
function usePoll(path: string | undefined): { data: Json | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<Json | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return undefined;
    let live = true;
    const load = () => api('GET', path).then((d) => { if (live) { setData(d); setError(undefined); } }, (e: Error) => { if (live) setError(e.message); });
    load();
    const timer = setInterval(load, 2000);
    return () => { live = false; clearInterval(timer); };
  }, [path, tick]);
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}

const bytes = (n: number | undefined) => {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
};
const secs = (a?: string, b?: string) => (a && b ? `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(2)} s` : '');
const ref = (j: Json) => `${j.source.registry}/${j.source.repository}${String(j.source.reference).startsWith('sha256:') ? '@' : ':'}${j.source.reference}`;
const Status = ({ s }: { s: string }) => html`<span class=${`status-${s}`}>${s}</span>`;

function Login({ onDone }: { onDone: () => void }) {
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = (e.target as HTMLFormElement).elements.namedItem('token') as HTMLInputElement;
    try {
      await api('POST', '/api/session', { token: input.value });
      input.value = '';
      onDone();
    } catch (err) {
      setError((err as HttpError).status === 401 ? 'Wrong admin token.' : (err as Error).message);
    }
  };
  return html`<main class="login"><h1>ferry console</h1>
    <form onSubmit=${submit}>
      <label>Admin token<input name="token" type="password" autocomplete="current-password" required /></label>
      <button type="submit">Log in</button>
      ${error && html`<p role="alert" class="error">${error}</p>`}
    </form></main>`;
}

function Overview() {
  const { data, error } = usePoll('/api/overview');
  if (!data) return html`<p>${error ?? 'Loading…'}</p>`;
  const max = Math.max(1, ...data.throughput.map((t: Json) => t.finished));
  return html`<h2>Overview</h2>
    <div class="cards">
      <div class="card">Queued<b>${data.queue.queued}</b></div>
      <div class="card">In flight<b>${data.queue.inFlight}</b></div>
      <div class="card">Dead<b>${data.queue.dead}</b></div>
      <div class="card">Lag p50<b>${data.lag.p50 !== undefined ? `${data.lag.p50.toFixed(1)} s` : '–'}</b></div>
      <div class="card">Lag p90<b>${data.lag.p90 !== undefined ? `${data.lag.p90.toFixed(1)} s` : '–'}</b></div>
    </div>
    <h3>Jobs finished per minute (last hour)</h3>
    <div class="bar" role="img" aria-label=${`jobs finished per minute, at most ${max}`}>${data.throughput.map((t: Json) => html`<span style=${`height:${(100 * t.finished) / max}%`}></span>`)}</div>
    <h3>Jobs by status</h3>
    <p>${Object.entries(data.jobs).map(([s, n]) => html`<span><${Status} s=${s} />: ${n} </span>`)}</p>
    <h3>Failures</h3>
    <p>By policy: ${Object.entries(data.failures.byPolicy).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}</p>
    <p>By registry: ${Object.entries(data.failures.byRegistry).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}</p>
    ${data.paused.length > 0 && html`<p class="status-paused">Paused policies: ${data.paused.join(', ')}</p>`}`;
}

function Jobs() {
  const [status, setStatus] = useState('');
  const [policy, setPolicy] = useState('');
  const q = new URLSearchParams({ limit: '100', ...(status ? { status } : {}), ...(policy ? { policy } : {}) });
  const { data, error } = usePoll(`/api/jobs?${q}`);
  return html`<h2>Jobs</h2>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Status<select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
        ${['', 'queued', 'running', 'succeeded', 'skipped', 'failed', 'dead', 'paused', 'cancelled'].map((s) => html`<option value=${s}>${s || 'any'}</option>`)}
      </select></label>
      <label>Policy<input value=${policy} onInput=${(e: Event) => setPolicy((e.target as HTMLInputElement).value)} /></label>
    </form>
    ${error && html`<p class="error">${error}</p>`}
    <div class="table" role="region" aria-label="Jobs table" tabindex="0"><table><thead><tr><th>Job</th><th>Status</th><th>Outcome</th><th>Source</th><th>Destination</th><th>Attempts</th><th>Bytes</th><th>Duration</th></tr></thead>
    <tbody>${(data?.jobs ?? []).map((j: Json) => html`<tr>
      <td><a href=${`#/jobs/${encodeURIComponent(j.id)}`}>${j.id.slice(0, 8)}</a></td><td><${Status} s=${j.status} /></td><td>${j.outcome?.action ?? ''}</td>
      <td>${ref(j)}</td><td>${j.destination.registry}/${j.destination.repository}</td><td>${j.attempts}</td><td>${bytes(j.stats?.bytes)}</td><td>${secs(j.startedAt, j.finishedAt)}</td></tr>`)}</tbody></table></div>`;
}

function JobDetail({ id }: { id: string }) {
  const { data: j, error, reload } = usePoll(`/api/jobs/${encodeURIComponent(id)}`);
  const [note, setNote] = useState('');
  const act = async (action: string) => {
    try { const r = await api('POST', `/api/jobs/${encodeURIComponent(id)}/${action}`); setNote(`${action}: ${r.result}`); } catch (e) { setNote((e as Error).message); }
    reload();
  };
  if (!j) return html`<p>${error ?? 'Loading…'}</p>`;
  return html`<h2>Job ${j.id}</h2>
    <div class="actions">
      ${['queued', 'failed', 'paused', 'running'].includes(j.status) && html`<button onClick=${() => act('cancel')}>Cancel</button>`}
      ${['failed', 'dead', 'cancelled'].includes(j.status) && html`<button onClick=${() => act('retry')}>Retry</button>`}
      ${note && html`<span role="status">${note}</span>`}
    </div>
    <dl>
      <dt>Status</dt><dd data-testid="job-status"><${Status} s=${j.status} /></dd>
      <dt>Policy</dt><dd>${j.policy}</dd>
      <dt>Source</dt><dd>${ref(j)}</dd>
      <dt>Destination</dt><dd>${j.destination.registry}/${j.destination.repository}</dd>
      <dt>Trigger</dt><dd>${j.trigger.kind} at ${j.trigger.at}</dd>
      <dt>Outcome</dt><dd>${j.outcome ? `${j.outcome.action} ${j.outcome.digest ?? ''} ${j.outcome.reason ?? ''}` : ''}</dd>
      <dt>Bytes</dt><dd>${bytes(j.stats?.bytes)}</dd>
      <dt>Last error</dt><dd class="error">${j.lastError?.message ?? ''}</dd>
    </dl>
    <h3>Attempts</h3>
    <div class="table" role="region" aria-label="Attempts table" tabindex="0"><table><thead><tr><th>#</th><th>Started</th><th>Finished</th><th>Outcome</th><th>Bytes</th><th>Error</th></tr></thead>
    <tbody>${(j.history ?? []).map((a: Json) => html`<tr><td>${a.attempt}</td><td>${a.startedAt}</td><td>${a.finishedAt ?? ''}</td><td><${Status} s=${a.outcome} /> ${a.action ?? ''}</td><td>${bytes(a.bytes)}</td><td>${a.error?.message ?? ''}</td></tr>`)}</tbody></table></div>`;
}

function Dlq() {
  const { data, reload } = usePoll('/api/dlq');
  const [picked, setPicked] = useState<string[]>([]);
  const [note, setNote] = useState('');
  const replay = async (body: Json) => {
    try { const r = await api('POST', '/api/dlq/replay', body); setNote(`replayed ${r.replayed.length}`); setPicked([]); } catch (e) { setNote((e as Error).message); }
    reload();
  };
  const dead = (data?.dead ?? []) as Json[];
  return html`<h2>Dead letters</h2>
    <div class="actions">
      <button disabled=${picked.length === 0} onClick=${() => replay({ ids: picked })}>Replay selected</button>
      <button class="secondary" disabled=${dead.length === 0} onClick=${() => replay({ all: true })}>Replay all</button>
      ${note && html`<span role="status">${note}</span>`}
    </div>
    <div class="table" role="region" aria-label="Dead letters table" tabindex="0"><table><thead><tr><th>Select</th><th>Job</th><th>Source</th><th>Dead at</th><th>Reason</th></tr></thead>
    <tbody>${dead.map((d) => html`<tr>
      <td><input type="checkbox" aria-label=${`select ${d.jobId}`} checked=${picked.includes(d.jobId)} onChange=${(e: Event) => setPicked((p) => ((e.target as HTMLInputElement).checked ? [...p, d.jobId] : p.filter((x) => x !== d.jobId)))} /></td>
      <td><a href=${`#/jobs/${encodeURIComponent(d.jobId)}`}>${d.jobId.slice(0, 8)}</a></td><td>${d.job ? ref(d.job) : d.key}</td><td>${d.deadAt ?? ''}</td><td>${d.reason ?? ''}</td></tr>`)}</tbody></table></div>`;
}

function Policies() {
  const { data, reload } = usePoll('/api/policies');
  const [result, setResult] = useState<{ name: string; kind: string; body: Json } | undefined>(undefined);
  const [busy, setBusy] = useState('');
  const act = async (name: string, action: string) => {
    setBusy(`${name} ${action}`);
    try { setResult({ name, kind: action, body: await api('POST', `/api/policies/${encodeURIComponent(name)}/${action}`) }); } catch (e) { setResult({ name, kind: action, body: { error: (e as Error).message } }); }
    setBusy('');
    reload();
  };
  return html`<h2>Policies</h2>
    ${busy && html`<p role="status">Running ${busy}…</p>`}
    <div class="table" role="region" aria-label="Policies table" tabindex="0"><table><thead><tr><th>Policy</th><th>State</th><th>Source</th><th>Jobs</th><th>Last sync</th><th>Last verify</th><th>Actions</th></tr></thead>
    <tbody>${(data?.policies ?? []).map((p: Json) => html`<tr>
      <td>${p.name}</td><td class=${p.paused ? 'status-paused' : 'ok'}>${p.paused ? 'paused' : 'active'}</td><td>${p.source}</td>
      <td>${Object.entries(p.jobs).map(([s, n]) => `${s} ${n}`).join(', ')}</td>
      <td>${p.lastSync ? `${p.lastSync.at} (${p.lastSync.enqueued} enqueued)` : ''}</td>
      <td>${p.lastVerify ? `${p.lastVerify.at} (${p.lastVerify.inSync ? 'in sync' : `${p.lastVerify.differences} differences`})` : ''}</td>
      <td class="actions">
        ${p.paused ? html`<button onClick=${() => act(p.name, 'resume')}>Resume ${p.name}</button>` : html`<button onClick=${() => act(p.name, 'pause')}>Pause ${p.name}</button>`}
        <button class="secondary" onClick=${() => act(p.name, 'sync')}>Sync ${p.name} now</button>
        <button class="secondary" onClick=${() => act(p.name, 'verify')}>Verify ${p.name}</button>
      </td></tr>`)}</tbody></table></div>
    ${result && html`<section aria-live="polite"><h3>${result.kind} ${result.name}</h3>
      ${result.body.error ? html`<p class="error">${result.body.error}</p>`
        : result.kind === 'verify' ? html`<p data-testid="verify-result" class=${result.body.inSync ? 'ok' : 'bad'}>${result.body.inSync ? 'In sync' : `${result.body.differences.length} differences`}</p>
          <ul>${result.body.differences.map((d: Json) => html`<li>${d.kind}: ${d.repository}:${d.tag} → ${d.destination.registry}/${d.destination.repository}</li>`)}</ul>`
        : result.kind === 'sync' ? html`<p data-testid="sync-result">${result.body.enqueued} jobs enqueued, ${result.body.inSync} tags in sync, ${result.body.errorCount} errors</p>`
        : html`<p>${result.body.paused ? 'paused' : 'active'}${result.body.released ? `, ${result.body.released.length} held jobs released` : ''}</p>`}</section>`}`;
}

function Registries() {
  const { data } = usePoll('/api/registries');
  return html`<h2>Registries</h2>
    <div class="table" role="region" aria-label="Registries table" tabindex="0"><table><thead><tr><th>Registry</th><th>URL</th><th>Role</th><th>Last success</th><th>Last failure</th><th>429 / 5xx (15 min)</th><th>Latency p50</th><th>Rate limit</th><th>Pull quota</th></tr></thead>
    <tbody>${(data?.registries ?? []).map((r: Json) => html`<tr>
      <td>${r.registry}</td><td>${r.url}</td><td>${[r.sourceOf.length ? `source of ${r.sourceOf.join(', ')}` : '', r.destinationOf.length ? `destination of ${r.destinationOf.join(', ')}` : ''].filter(Boolean).join('; ')}</td>
      <td>${r.lastSuccess ?? ''}</td><td class="error">${r.lastFailure ? `${r.lastFailure.at}: ${r.lastFailure.reason}` : ''}</td>
      <td>${r.recent.throttled} / ${r.recent.serverErrors}</td><td>${r.latencyP50Ms !== undefined ? `${r.latencyP50Ms} ms` : ''}</td>
      <td data-testid="rate-control">${rateText(r.rateControl)}</td><td data-testid="pull-quota">${quotaText(r.pullQuota)}</td></tr>`)}</tbody></table></div>`;
}

function rateText(rc: Json | undefined): string {
  if (!rc) return '';
  const limit = rc.limit === 'unlimited' ? 'unlimited' : `${rc.limit} req/s`;
  if (!rc.backingOff) return limit;
  return `${limit}, backing off${rc.backOffFrom !== undefined ? ` from ${rc.backOffFrom} req/s` : ''}${rc.pausedUntil ? `, paused until ${rc.pausedUntil}` : ''}`;
}

function quotaText(q: Json | undefined): string {
  if (!q) return '';
  const left = q.remaining !== undefined ? `${q.remaining}${q.limit !== undefined ? ` / ${q.limit}` : ''} pulls left` : '';
  return [left, q.pausedUntil ? `pulls paused until ${q.pausedUntil}` : ''].filter(Boolean).join(', ');
}

function Deliveries() {
  const { data } = usePoll('/api/deliveries?limit=100');
  return html`<h2>Webhook deliveries</h2>
    <div class="table" role="region" aria-label="Webhook deliveries table" tabindex="0"><table><thead><tr><th>Time</th><th>Registry</th><th>From</th><th>Status</th><th>Events</th><th>Jobs created</th><th>Ignored</th></tr></thead>
    <tbody>${(data?.deliveries ?? []).map((d: Json) => html`<tr>
      <td>${d.at}</td><td>${d.registry}</td><td>${d.remoteAddress ?? ''}</td><td class=${d.status >= 400 ? 'bad' : 'ok'}>${d.status}</td>
      <td>${d.events}</td><td>${d.jobsCreated}</td><td>${d.ignored.join(', ')}${d.error ? ` ${d.error}` : ''}</td></tr>`)}</tbody></table></div>`;
}

function App() {
  const [authed, setAuthed] = useState<boolean | undefined>(undefined);
  const route = useRoute();
  const check = useCallback(() => { api('GET', '/api/session').then((s) => setAuthed(s.authenticated === true), () => setAuthed(false)); }, []);
  useEffect(check, []);
  if (authed === undefined) return html`<p>Loading…</p>`;
  if (!authed) return html`<${Login} onDone=${check} />`;
  const page = route[0] ?? 'overview';
  const logout = async () => { await api('DELETE', '/api/session').catch(() => undefined); setAuthed(false); };
  const body = page === 'jobs' && route[1] ? html`<${JobDetail} id=${route[1]} />`
    : page === 'jobs' ? html`<${Jobs} />` : page === 'dlq' ? html`<${Dlq} />` : page === 'policies' ? html`<${Policies} />`
    : page === 'registries' ? html`<${Registries} />` : page === 'deliveries' ? html`<${Deliveries} />` : html`<${Overview} />`;
  return html`<a class="skip" href="#main">Skip to content</a>
    <header><h1>ferry</h1>
      <nav aria-label="Console"><ul>${PAGES.map(([id, label]) => html`<li><a href=${`#/${id}`} aria-current=${page === id ? 'page' : undefined}>${label}</a></li>`)}</ul></nav>
      <button class="secondary" onClick=${logout}>Log out</button></header>
    <main id="main" tabindex="-1">${body}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
