// The parts of undici ferry uses, each loaded from its own file. The package's index also
// loads fetch, WebSocket, EventSource, caches and mocks at import: about 40 ms of every
// `ferry` start and of every Lambda cold start, for code ferry never calls
// (docs/architecture.md, "Registry HTTP").
import type * as Undici from 'undici';
import api from 'undici/lib/api/index.js';
import agent from 'undici/lib/dispatcher/agent.js';
import dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import connector from 'undici/lib/core/connect.js';
import pool from 'undici/lib/dispatcher/pool.js';
import proxyAgent from 'undici/lib/dispatcher/proxy-agent.js';

// What undici's index does at import, and all of it ferry needs: request() and friends
// (connect(), which ProxyAgent's CONNECT tunnels use) become methods of every dispatcher.
Object.assign(dispatcher.prototype, api);

export const Agent: typeof Undici.Agent = agent;
export const Pool: typeof Undici.Pool = pool;
export const ProxyAgent: typeof Undici.ProxyAgent = proxyAgent;
export const buildConnector: typeof Undici.buildConnector = connector;

export type AgentOptions = Undici.Agent.Options;
export type Connector = Undici.buildConnector.connector;
export type ConnectorOptions = Undici.buildConnector.BuildOptions;
export type { Dispatcher } from 'undici';
