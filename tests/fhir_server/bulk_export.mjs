// A test-only FHIR Bulk Data Access (IG 2.0.0) export for server.mjs: the router has no `$export`.
//
// Kick-off: GET|POST [base]/$export, [base]/Patient/$export, [base]/Group/[id]/$export
//   needs `Prefer: respond-async` and `Accept: application/fhir+json` (else 400 + OperationOutcome); honours
//   `_type`, `_since` (meta.lastUpdated after it) and `_outputFormat` (the three NDJSON names); any other
//   `_`-parameter is refused with 400 unless `Prefer: handling=lenient`. 202 + absolute `Content-Location`.
// Polling: GET [base]/bulk/status/[job] -> 202 (`X-Progress`, `Retry-After`) for `polls` polls, then 200 + the
//   complete-status manifest. DELETE [base]/bulk/status/[job] -> 202, then the status answers 404.
// deleted[]: resources DELETEd through the FHIR API after `_since`, as one transaction Bundle of DELETEs.
// Files: GET [base]/bulk/file/[job]/[name] -> NDJSON (gzip when the client accepts it).
// The data is the repository at kick-off (transactionTime); Group members that do not resolve are
// OperationOutcomes in an error[] file (as Medplum logs them).
//
// Quirks, PUT /_bulk/config (merged; POST /_reset puts the defaults back):
//   polls: n          status polls answered 202 before the manifest (default 2)
//   retryAfter: s     the Retry-After of a 202 (default 1); noProgress: true drops X-Progress and Retry-After (Medplum)
//   perFile: n        resources per file (default 0: one file per type; HAPI writes 1,000)
//   busy: true        429 + Retry-After on a kick-off while another export runs (HAPI)
//   transient: n      the next n status polls answer 503 + OperationOutcome code `transient`
//   requireToken: t   kick-off, status and files need `Authorization: Bearer t` (401 otherwise)
//   requiresAccessToken: bool   what the manifest says (default: true when requireToken is set)
//   fileOrigin: url   output URLs on another origin (a file server nobody runs: the client must not go there
//                     with the token)
//   expireFiles: n    each complete-status answer signs its file URLs (`?sig=<k>`, k = 1, 2...); the links of
//                     the first n answers have expired (403), as presigned URLs do: the client must poll again
//   smartClientId: id, smartJwks: {keys: [...]}   SMART Backend Services: POST [base]/_smart/token checks
//                     the client's signed assertion (ES384/RS384, iss = sub = id, aud = the token URL,
//                     exp within 5 minutes, jti not seen before) and issues tokens the export then requires;
//                     tokenSeconds: their lifetime (default 300). GET [base]/.well-known/smart-configuration.
// GET /_bulk/requests: every bulk request seen (method, path, authorization, acceptEncoding).

import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const KNOWN_PARAMS = new Set(['_type', '_since', '_outputFormat']);
const DEFAULTS = { polls: 2, retryAfter: 1, noProgress: false, perFile: 0, busy: false, transient: 0,
  requireToken: null, requiresAccessToken: null, fileOrigin: null, smartClientId: null, smartJwks: null,
  tokenSeconds: 300, expireFiles: 0 };
const EXPORT_PATH = /^\/(?:(Patient)\/|Group\/([^/]+)\/)?\$export$/;

function issue(status, code, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] }];
}

// The compartment test the export needs: the Patient itself, or a resource whose subject/patient is it.
function patientOf(resource) {
  if (resource.resourceType === 'Patient') return resource.id;
  const ref = resource.subject?.reference ?? resource.patient?.reference ?? '';
  return ref.startsWith('Patient/') ? ref.slice('Patient/'.length) : null;
}

export function createBulkExport(getRepo, send) {
  let config = { ...DEFAULTS };
  let jobs = new Map();
  let log = [];
  let deletions = [];
  let issued = new Map(); // access token -> expiry (ms)
  let seenJti = new Set(); // {type, id, at}: the repository forgets deleted resources, deleted[] needs them

  function authorised(req) {
    const header = String(req.headers.authorization ?? '');
    if (config.smartClientId) {
      const expiry = issued.get(header.replace(/^Bearer /, ''));
      return header.startsWith('Bearer ') && expiry !== undefined && expiry > Date.now();
    }
    return !config.requireToken || header === `Bearer ${config.requireToken}`;
  }

  function oauthError(res, text) {
    return send(res, 400, { error: 'invalid_client', error_description: text }, 'application/json');
  }

  // SMART Backend Services (client-credentials, private_key_jwt): the assertion's signature and claims.
  function token(req, res, body, tokenUrl) {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') return oauthError(res, 'grant_type must be client_credentials');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return oauthError(res, 'client_assertion_type must be jwt-bearer');
    }
    const parts = String(form.get('client_assertion') ?? '').split('.');
    if (parts.length !== 3) return oauthError(res, 'client_assertion is not a JWS');
    let header;
    let claims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url'));
      claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
    } catch {
      return oauthError(res, 'client_assertion is not a JWS');
    }
    const jwk = (config.smartJwks?.keys ?? []).find((k) => k.kid === header.kid);
    if (!jwk || !['ES384', 'RS384'].includes(header.alg)) return oauthError(res, 'unknown kid or alg');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const options = header.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key;
    if (!verify('sha384', Buffer.from(`${parts[0]}.${parts[1]}`), options, Buffer.from(parts[2], 'base64url'))) {
      return oauthError(res, 'bad signature');
    }
    const now = Date.now() / 1000;
    if (claims.iss !== config.smartClientId || claims.sub !== config.smartClientId) return oauthError(res, 'iss/sub');
    if (claims.aud !== tokenUrl) return oauthError(res, 'aud is not the token URL');
    if (!(claims.exp > now && claims.exp <= now + 300)) return oauthError(res, 'exp not within 5 minutes');
    if (!claims.jti || seenJti.has(claims.jti)) return oauthError(res, 'jti missing or replayed');
    seenJti.add(claims.jti);
    const accessToken = randomUUID();
    issued.set(accessToken, Date.now() + config.tokenSeconds * 1000);
    return send(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: config.tokenSeconds,
      scope: form.get('scope') ?? '' }, 'application/json');
  }

  function snapshot(kind, groupId, types, since) {
    // MemoryRepository keeps resources in a private Map<type, Map<id, resource>>; reading it is the only
    // way to list every type without one search per known type.
    const store = getRepo().resources;
    const byType = new Map();
    const errors = [];
    let members = null;
    if (kind === 'group') {
      const group = store.get('Group')?.get(groupId);
      if (!group) return { missing: true };
      members = new Set();
      for (const member of group.member ?? []) {
        const ref = member.entity?.reference ?? '';
        const id = ref.startsWith('Patient/') ? ref.slice(8) : null;
        if (id && store.get('Patient')?.has(id)) members.add(id);
        else errors.push(issue(0, 'not-found', `Group member ${ref || '(no reference)'} could not be read`)[1]);
      }
    }
    for (const [type, resources] of store) {
      if (types && !types.includes(type)) continue;
      for (const resource of resources.values()) {
        if (since && !(resource.meta?.lastUpdated > since)) continue;
        if (kind !== 'system') {
          const patient = patientOf(resource);
          if (patient === null || (members && !members.has(patient))) continue;
        }
        if (!byType.has(type)) byType.set(type, []);
        byType.get(type).push(resource);
      }
    }
    return { byType, errors };
  }

  function kickOff(req, res, url, match, base) {
    const prefer = String(req.headers.prefer ?? '');
    if (!/respond-async/.test(prefer)) return send(res, ...issue(400, 'required', 'Prefer: respond-async is required'));
    if (req.headers.accept !== 'application/fhir+json') {
      return send(res, ...issue(400, 'required', 'Accept: application/fhir+json is required'));
    }
    const params = url.searchParams;
    const lenient = /handling=lenient/.test(prefer);
    for (const name of params.keys()) {
      if (name.startsWith('_') && !KNOWN_PARAMS.has(name) && !lenient) {
        return send(res, ...issue(400, 'not-supported', `${name} is not supported`));
      }
    }
    const format = params.get('_outputFormat');
    if (format && !NDJSON_FORMATS.has(format)) return send(res, ...issue(400, 'not-supported', `_outputFormat ${format}`));
    const since = params.get('_since');
    if (since && Number.isNaN(Date.parse(since))) return send(res, ...issue(400, 'invalid', '_since is not an instant'));
    if (config.busy && [...jobs.values()].some((job) => job.pollsLeft > 0 && !job.deleted)) {
      res.setHeader('Retry-After', '1');
      return send(res, ...issue(429, 'throttled', 'another export is running'));
    }
    const types = params.get('_type') ? params.get('_type').split(',').map((t) => t.trim()) : null;
    const kind = match[1] ? 'patient' : match[2] ? 'group' : 'system';
    const transactionTime = new Date().toISOString();
    const data = snapshot(kind, match[2], types, since ? new Date(since).toISOString() : null);
    if (data.missing) return send(res, ...issue(404, 'not-found', `Group/${match[2]} not found`));
    const id = randomUUID();
    const files = new Map();
    const output = [];
    const fileBase = config.fileOrigin ?? base;
    for (const [type, resources] of [...data.byType].sort(([a], [b]) => a.localeCompare(b))) {
      const size = config.perFile > 0 ? config.perFile : resources.length;
      for (let start = 0, n = 1; start < resources.length; start += size, n += 1) {
        const part = resources.slice(start, start + size);
        const name = `${type}.${n}.ndjson`;
        files.set(name, part.map((r) => JSON.stringify(r)).join('\n') + '\n');
        output.push({ type, url: `${fileBase}/bulk/file/${id}/${name}`, count: part.length });
      }
    }
    const error = [];
    if (data.errors.length) {
      files.set('OperationOutcome.errors.ndjson', data.errors.map((o) => JSON.stringify(o)).join('\n') + '\n');
      error.push({ type: 'OperationOutcome', url: `${fileBase}/bulk/file/${id}/OperationOutcome.errors.ndjson` });
    }
    // deleted[] (only for _since exports, as the IG says): one transaction Bundle of DELETE entries.
    const gone = since ? deletions.filter((d) => d.at > new Date(since).toISOString() && (!types || types.includes(d.type))) : [];
    const deleted = [];
    if (gone.length) {
      const bundle = { resourceType: 'Bundle', type: 'transaction',
        entry: gone.map((d) => ({ request: { method: 'DELETE', url: `${d.type}/${d.id}` } })) };
      files.set('Bundle.deleted.ndjson', JSON.stringify(bundle) + '\n');
      deleted.push({ type: 'Bundle', url: `${fileBase}/bulk/file/${id}/Bundle.deleted.ndjson` });
    }
    const requiresAccessToken = config.requiresAccessToken ?? Boolean(config.requireToken || config.smartClientId);
    const manifest = { transactionTime, request: `${base}${url.pathname}${url.search}`, requiresAccessToken,
      output, error, deleted };
    jobs.set(id, { manifest, files, pollsLeft: config.polls, polls: config.polls, deleted: false, generation: 0 });
    res.writeHead(202, { 'Content-Location': `${base}/bulk/status/${id}` });
    return res.end();
  }

  function status(req, res, job) {
    if (req.method === 'DELETE') {
      job.deleted = true;
      res.writeHead(202);
      return res.end();
    }
    if (config.transient > 0) {
      config.transient -= 1;
      return send(res, ...issue(503, 'transient', 'the export is briefly unavailable'));
    }
    if (job.pollsLeft > 0) {
      job.pollsLeft -= 1;
      const headers = {};
      if (!config.noProgress) {
        headers['X-Progress'] = `${Math.round((100 * (job.polls - job.pollsLeft)) / (job.polls + 1))}% done`;
        headers['Retry-After'] = String(config.retryAfter);
      }
      res.writeHead(202, headers);
      return res.end();
    }
    job.generation += 1;
    let manifest = job.manifest;
    if (config.expireFiles > 0) {
      const sign = (entry) => ({ ...entry, url: `${entry.url}?sig=${job.generation}` });
      manifest = { ...manifest, output: manifest.output.map(sign), error: manifest.error.map(sign),
        deleted: manifest.deleted.map(sign) };
    }
    const text = JSON.stringify(manifest);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Expires': new Date(Date.now() + 3600_000).toUTCString() });
    return res.end(text);
  }

  function file(req, res, job, name, url) {
    if (config.expireFiles > 0 && !(Number(url.searchParams.get('sig')) > config.expireFiles)) {
      return send(res, ...issue(403, 'expired', 'the file link has expired'));
    }
    const body = job.files.get(name);
    if (body === undefined) return send(res, ...issue(404, 'not-found', `no file ${name}`));
    let bytes = Buffer.from(body, 'utf8');
    const headers = { 'Content-Type': 'application/fhir+ndjson' };
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      bytes = gzipSync(bytes);
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = bytes.length;
    res.writeHead(200, headers);
    return res.end(bytes);
  }

  // True when the request was a bulk one (answered here).
  async function handle(req, res, url, fhirPath, base, readBody) {
    if (fhirPath === '/.well-known/smart-configuration' && req.method === 'GET') {
      send(res, 200, { token_endpoint: `${base}/_smart/token`, grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'] }, 'application/json');
      return true;
    }
    if (fhirPath === '/_smart/token' && req.method === 'POST') {
      log.push({ method: 'POST', path: url.pathname, query: '', authorization: null, acceptEncoding: null });
      token(req, res, await readBody(req), `${base}/_smart/token`);
      return true;
    }
    const exportMatch = EXPORT_PATH.exec(fhirPath);
    const bulkMatch = /^\/bulk\/(status|file)\/([^/]+)(?:\/([^/]+))?$/.exec(fhirPath);
    if (!exportMatch && !bulkMatch) return false;
    log.push({ method: req.method, path: url.pathname, query: url.search.replace(/^\?/, ''),
      authorization: req.headers.authorization ?? null, acceptEncoding: req.headers['accept-encoding'] ?? null });
    if (!authorised(req)) {
      send(res, ...issue(401, 'login', 'a bearer token is required'));
      return true;
    }
    if (exportMatch) {
      if (req.method !== 'GET' && req.method !== 'POST') send(res, ...issue(405, 'not-supported', req.method));
      else kickOff(req, res, url, exportMatch, base);
      return true;
    }
    const job = jobs.get(bulkMatch[2]);
    if (!job || job.deleted) {
      send(res, ...issue(404, 'not-found', 'no such export (deleted or never started)'));
    } else if (bulkMatch[1] === 'status' && !bulkMatch[3] && (req.method === 'GET' || req.method === 'DELETE')) {
      status(req, res, job);
    } else if (bulkMatch[1] === 'file' && bulkMatch[3] && req.method === 'GET') {
      file(req, res, job, bulkMatch[3], url);
    } else {
      send(res, ...issue(405, 'not-supported', `${req.method} ${url.pathname}`));
    }
    return true;
  }

  function testRoute(req, res, url, readBody) {
    if (url.pathname === '/_bulk/requests' && req.method === 'GET') {
      send(res, 200, log, 'application/json');
      return true;
    }
    if (url.pathname === '/_bulk/config' && req.method === 'PUT') {
      return readBody(req).then((text) => {
        const change = JSON.parse(text || '{}');
        for (const key of Object.keys(change)) {
          if (!(key in DEFAULTS)) return send(res, 400, { error: `unknown bulk switch ${key}` }, 'application/json');
        }
        config = { ...config, ...change };
        return send(res, 200, config, 'application/json');
      });
    }
    return false;
  }

  function reset() {
    config = { ...DEFAULTS };
    jobs = new Map();
    log = [];
    deletions = [];
    issued = new Map();
    seenJti = new Set();
  }

  function noteDeleted(type, id) {
    deletions.push({ type, id, at: new Date().toISOString() });
  }

  return { handle, testRoute, reset, noteDeleted };
}
