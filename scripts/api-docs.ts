/**
 * Generates docs/api.md, the gRPC API reference, from the protos: every service, method,
 * message, field, oneof, enum and enum value with its comment, plus the result codes, their
 * gRPC status mapping (from core/wire/status.ts), deadlines, retries and grpcurl examples.
 *
 *   npm run docs:api      regenerate docs/api.md
 *   npm run docs:check    fail when docs/api.md is not what the protos generate
 *
 * The descriptors come from `buf build -o -#format=json` (source info included, so comments).
 * Fails when an element has no comment (buf lint COMMENTS should have caught it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { clientErrorName, DbError, ResultCode, type ResultCodeName } from '../core/errors/index.ts';
import { grpcStatusFor, HINT_HEADER, IN_DOUBT_HEADER, RESULT_CODE_HEADER, RESULT_NAME_HEADER } from '../core/wire/status.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const API_DOC_PATH = join(ROOT, 'docs/api.md');

// ---- descriptor JSON (google.protobuf.FileDescriptorSet, proto3 JSON names) ----

interface Location { path?: number[]; span?: number[]; leadingComments?: string; trailingComments?: string; leadingDetachedComments?: string[] }
interface FieldDesc { name: string; number: number; label?: string; type?: string; typeName?: string; oneofIndex?: number; proto3Optional?: boolean; jsonName?: string }
interface MessageDesc { name: string; field?: FieldDesc[]; nestedType?: MessageDesc[]; enumType?: EnumDesc[]; oneofDecl?: { name: string }[]; options?: { mapEntry?: boolean } }
interface EnumDesc { name: string; value?: { name: string; number: number }[] }
interface MethodDesc { name: string; inputType: string; outputType: string; clientStreaming?: boolean; serverStreaming?: boolean }
interface ServiceDesc { name: string; method?: MethodDesc[] }
interface FileDesc {
  name: string; package?: string; dependency?: string[]; messageType?: MessageDesc[]; enumType?: EnumDesc[];
  service?: ServiceDesc[]; sourceCodeInfo?: { location?: Location[] };
}
export interface DescriptorSet { file: FileDesc[] }

/** The protos under proto/ as a descriptor set with comments. */
export function buildDescriptors(protoRoot = ROOT): DescriptorSet {
  const buf = join(ROOT, 'node_modules/.bin/buf');
  const json = execFileSync(buf, ['build', '-o', '-#format=json'], { cwd: protoRoot, maxBuffer: 64 * 1024 * 1024 }).toString();
  return JSON.parse(json) as DescriptorSet;
}

// ---- rendering helpers ----

function clean(comment: string | undefined): string {
  if (comment === undefined) return '';
  return comment.split('\n').map((l) => l.replace(/^ /, '').trimEnd()).join('\n').trim();
}

/** A comment for a table cell: paragraphs kept with <br>, pipes escaped, code blocks flattened. */
function cell(comment: string): string {
  return comment
    .split(/\n\s*\n/)
    .map((p) => p.split('\n').map((l) => l.trim()).join(' '))
    .join('<br><br>')
    .replace(/\|/g, '\\|');
}

/** A comment as Markdown text: indented lines (examples) become code blocks. */
function block(comment: string): string {
  const out: string[] = [];
  let code = false;
  for (const line of comment.split('\n')) {
    const isCode = /^ {2,}\S/.test(line);
    if (isCode && !code) { if (out.length > 0 && out[out.length - 1] !== '') out.push(''); out.push('```'); code = true; }
    if (!isCode && code && line.trim() !== '') {
      while (out[out.length - 1] === '') out.pop();
      out.push('```', '');
      code = false;
    }
    out.push(isCode ? line.replace(/^ {2}/, '') : line);
  }
  if (code) {
    while (out[out.length - 1] === '') out.pop();
    out.push('```');
  }
  return out.join('\n');
}

function anchor(fullName: string): string {
  return fullName.replace(/^\./, '').replace(/[./]/g, '-').toLowerCase();
}

const SCALARS: Record<string, string> = {
  TYPE_DOUBLE: 'double', TYPE_FLOAT: 'float', TYPE_INT64: 'int64', TYPE_UINT64: 'uint64', TYPE_INT32: 'int32',
  TYPE_FIXED64: 'fixed64', TYPE_FIXED32: 'fixed32', TYPE_BOOL: 'bool', TYPE_STRING: 'string', TYPE_BYTES: 'bytes',
  TYPE_UINT32: 'uint32', TYPE_SFIXED32: 'sfixed32', TYPE_SFIXED64: 'sfixed64', TYPE_SINT32: 'sint32', TYPE_SINT64: 'sint64',
};

/** Renders docs/api.md from a descriptor set. Pure: same input, same text. */
export function renderApiDocs(set: DescriptorSet): string {
  const files = [...set.file].filter((f) => f.name.startsWith('slipstream/')).sort((a, b) => a.name.localeCompare(b.name));
  const missing: string[] = [];
  const out: string[] = [];
  const w = (...lines: string[]): void => { out.push(...lines); };

  // Messages by full name, to link types and to expand map entries.
  const messages = new Map<string, MessageDesc>();
  const enums = new Set<string>();
  for (const f of files) {
    const pkg = `.${f.package ?? ''}`;
    const walk = (m: MessageDesc, prefix: string): void => {
      const full = `${prefix}.${m.name}`;
      messages.set(full, m);
      for (const n of m.nestedType ?? []) walk(n, full);
      for (const e of m.enumType ?? []) enums.add(`${full}.${e.name}`);
    };
    for (const m of f.messageType ?? []) walk(m, pkg);
    for (const e of f.enumType ?? []) enums.add(`${pkg}.${e.name}`);
  }
  const typeLink = (full: string): string => `[${full.replace(/^\.slipstream\.v1\./, '')}](#${anchor(full)})`;
  const fieldType = (fd: FieldDesc): string => {
    if (fd.typeName !== undefined) {
      const entry = messages.get(fd.typeName);
      if (entry?.options?.mapEntry === true) {
        const [k, v] = entry.field ?? [];
        return `map<${k === undefined ? '?' : fieldType(k)}, ${v === undefined ? '?' : fieldType(v)}>`;
      }
      return typeLink(fd.typeName);
    }
    return SCALARS[fd.type ?? ''] ?? (fd.type ?? '?');
  };

  const services: { file: FileDesc; svc: ServiceDesc; comment: string; full: string }[] = [];
  const comments = new Map<FileDesc, Map<string, Location>>();
  for (const f of files) {
    const m = new Map<string, Location>();
    for (const loc of f.sourceCodeInfo?.location ?? []) if (loc.path !== undefined) m.set(loc.path.join('.'), loc);
    comments.set(f, m);
    (f.service ?? []).forEach((svc, i) => {
      services.push({ file: f, svc, comment: clean(m.get(`6.${i}`)?.leadingComments), full: `.${f.package}.${svc.name}` });
    });
  }
  const commentOf = (f: FileDesc, path: number[], what: string): string => {
    const loc = comments.get(f)?.get(path.join('.'));
    const c = clean(loc?.leadingComments) || clean(loc?.trailingComments);
    if (c === '') missing.push(`${f.name}: ${what}`);
    return c;
  };

  w('# Slipstream gRPC API reference', '',
    '<!-- Generated by scripts/api-docs.ts from proto/. Do not edit: run `npm run docs:api`. -->', '',
    'Every Slipstream node serves these gRPC services (package `slipstream.v1`, plaintext HTTP/2, default',
    'port 3000), plus the standard [health](https://github.com/grpc/grpc/blob/master/doc/health-checking.md)',
    'and [server reflection](https://github.com/grpc/grpc/blob/master/doc/server-reflection.md) services.',
    'The `.proto` files are in `proto/slipstream/v1/`; generate a client for any language from them',
    '(see [clients.md](clients.md) and `examples/`).', '',
    '## Contents', '',
    '- [Errors and result codes](#errors-and-result-codes)',
    '- [Deadlines, retries and "in doubt"](#deadlines-retries-and-in-doubt)',
    '- [Calling with grpcurl and other generic tools](#calling-with-grpcurl-and-other-generic-tools)',
    '- [Compatibility](#compatibility)');
  for (const s of services) w(`- [${s.svc.name}](#${anchor(s.full)}) (\`${s.file.name}\`)`);
  w('- Types by file:');
  for (const f of files) w(`  - [${f.name}](#${anchor(f.name)})`);
  w('');

  renderErrors(w);
  renderRetries(w);
  renderGrpcurl(w);
  renderCompatibility(w);

  // ---- services ----
  w('## Services', '');
  for (const { file, svc, full } of services) {
    const si = (file.service ?? []).indexOf(svc);
    w(`<a id="${anchor(full)}"></a>`, '', `### ${svc.name}`, '', `\`${full.slice(1)}\` — defined in \`${file.name}\`.`, '',
      block(commentOf(file, [6, si], `service ${svc.name}`)), '',
      '| Method | Request | Response | Description |', '| --- | --- | --- | --- |');
    (svc.method ?? []).forEach((m, mi) => {
      const res = `${m.serverStreaming === true ? 'stream ' : ''}${typeLink(m.outputType)}`;
      const req = `${m.clientStreaming === true ? 'stream ' : ''}${typeLink(m.inputType)}`;
      w(`| <a id="${anchor(`${full}.${m.name}`)}"></a>\`${m.name}\` | ${req} | ${res} | ${cell(commentOf(file, [6, si, 2, mi], `rpc ${svc.name}.${m.name}`))} |`);
    });
    w('', `Full method names: ${(svc.method ?? []).map((m) => `\`/${full.slice(1)}/${m.name}\``).join(', ')}.`, '');
  }

  // ---- messages and enums, by file ----
  w('## Types', '');
  for (const f of files) {
    const pkg = `.${f.package ?? ''}`;
    w(`<a id="${anchor(f.name)}"></a>`, '', `### ${f.name}`, '');
    // The file's overview: comments standing apart before the package line or the first declaration.
    const tops = (f.sourceCodeInfo?.location ?? []).filter((l) => l.path?.length === 2 && [4, 5, 6].includes(l.path[0] ?? -1));
    const first = tops.sort((a, b) => (a.span?.[0] ?? 0) - (b.span?.[0] ?? 0))[0];
    const overview = [...(comments.get(f)?.get('2')?.leadingDetachedComments ?? []), ...(first?.leadingDetachedComments ?? [])];
    for (const c of overview) w(block(clean(c)), '');

    const renderEnum = (e: EnumDesc, path: number[], prefix: string): void => {
      const full = `${prefix}.${e.name}`;
      w(`<a id="${anchor(full)}"></a>`, '', `#### enum ${full.replace(/^\.slipstream\.v1\./, '')}`, '', block(commentOf(f, path, `enum ${full}`)), '',
        '| Value | Number | Description |', '| --- | --- | --- |');
      (e.value ?? []).forEach((v, vi) => w(`| \`${v.name}\` | ${v.number} | ${cell(commentOf(f, [...path, 2, vi], `enum value ${full}.${v.name}`))} |`));
      w('');
    };
    const renderMessage = (m: MessageDesc, path: number[], prefix: string): void => {
      if (m.options?.mapEntry === true) return;
      const full = `${prefix}.${m.name}`;
      w(`<a id="${anchor(full)}"></a>`, '', `#### ${full.replace(/^\.slipstream\.v1\./, '')}`, '', block(commentOf(f, path, `message ${full}`)), '');
      const fields = m.field ?? [];
      if (fields.length === 0) {
        w('No fields.', '');
      } else {
        w('| Field | Number | Type | Description |', '| --- | --- | --- | --- |');
        fields.forEach((fd, fi) => {
          let label = '';
          if (fd.label === 'LABEL_REPEATED' && !fieldType(fd).startsWith('map<')) label = 'repeated ';
          const realOneof = fd.oneofIndex !== undefined && fd.proto3Optional !== true ? m.oneofDecl?.[fd.oneofIndex]?.name : undefined;
          if (fd.proto3Optional === true) label = 'optional ';
          const note = realOneof === undefined ? '' : ` *(oneof \`${realOneof}\`)*`;
          w(`| \`${fd.name}\` | ${fd.number} | ${label}${fieldType(fd)} | ${cell(commentOf(f, [...path, 2, fi], `field ${full}.${fd.name}`))}${note} |`);
        });
        w('');
      }
      (m.oneofDecl ?? []).forEach((o, oi) => {
        if (fields.some((fd) => fd.oneofIndex === oi && fd.proto3Optional === true)) return; // synthetic oneof of an optional field
        w(`Oneof \`${o.name}\`: ${cell(commentOf(f, [...path, 8, oi], `oneof ${full}.${o.name}`))}`, '');
      });
      (m.enumType ?? []).forEach((e, ei) => renderEnum(e, [...path, 4, ei], full));
      (m.nestedType ?? []).forEach((n, ni) => renderMessage(n, [...path, 3, ni], full));
    };
    (f.messageType ?? []).forEach((m, mi) => renderMessage(m, [4, mi], pkg));
    (f.enumType ?? []).forEach((e, ei) => renderEnum(e, [5, ei], pkg));
  }

  if (missing.length > 0) throw new Error(`proto elements without a comment (document them in the .proto):\n  ${missing.join('\n  ')}`);
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

type Writer = (...lines: string[]) => void;

const STATUS_NAMES = new Map<number, string>(Object.entries(GrpcStatus).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

function renderErrors(w: Writer): void {
  w('## Errors and result codes', '',
    'A call that fails ends with a gRPC status whose code follows the table below, a details text',
    '`NAME (code): message. hint`, and trailing metadata that carries the exact',
    '[Aerospike result code](https://aerospike.com/docs/server/reference/error-codes):', '',
    '| Trailer | Example | Meaning |', '| --- | --- | --- |',
    `| \`${RESULT_CODE_HEADER}\` | \`2\` | The result code, as decimal text. Branch on this, not on the gRPC status: several result codes share a status. |`,
    `| \`${RESULT_NAME_HEADER}\` | \`AEROSPIKE_ERR_RECORD_NOT_FOUND\` | The name Aerospike's C client (and aql) prints for the code. |`,
    `| \`${HINT_HEADER}\` | \`check the namespace name\` | What to do about it, when the server has advice. Optional. |`,
    `| \`${IN_DOUBT_HEADER}\` | \`true\` | The write may or may not have been applied (see below). Absent means false. |`, '',
    'A failure with **no** `slipstream-result-code` trailer did not come from Slipstream\'s handlers:',
    'no connection (`UNAVAILABLE`), the deadline passed (`DEADLINE_EXCEEDED`), the call was cancelled',
    '(`CANCELLED`), or the request could not be decoded (`INTERNAL`/`INVALID_ARGUMENT` from the gRPC',
    'library). Per-record results of a batch are not errors of the call: `BatchGetResult.result_code`',
    'holds each one (0 or 2 mostly).', '',
    '### Result codes', '',
    'Negative codes are client-side (the TypeScript client raises them; servers never send them).', '',
    '| Code | Name | Client name (`slipstream-result-name`) | gRPC status |', '| ---: | --- | --- | --- |');
  const names = (Object.keys(ResultCode) as ResultCodeName[]).sort((a, b) => {
    const x = ResultCode[a], y = ResultCode[b];
    return (x < 0 ? 1000 - x : x) - (y < 0 ? 1000 - y : y);
  });
  for (const name of names) {
    const code = ResultCode[name];
    let grpc: string;
    if (code === 0) grpc = '`OK` (success)';
    else if (code < 0) grpc = '— (client-side)';
    else if (name === 'QUERY_END') grpc = '— (end of a stream, never an error)';
    else grpc = `\`${STATUS_NAMES.get(grpcStatusFor(new DbError(name, ''))) ?? '?'}\``;
    w(`| ${code} | \`${name}\` | \`${clientErrorName(code)}\` | ${grpc} |`);
  }
  w('', 'Result codes a UDF chooses (`"<code>:message"` thrown from a UDF, see the UdfService) travel in',
    '`slipstream-result-code` as they are; their gRPC status is `ABORTED`, the status of `UDF` (100).', '');

  // The mapping the other way round, grouped by gRPC status.
  const byStatus = new Map<string, string[]>();
  for (const name of names) {
    const code = ResultCode[name];
    if (code <= 0 || name === 'QUERY_END') continue;
    const s = STATUS_NAMES.get(grpcStatusFor(new DbError(name, ''))) ?? '?';
    byStatus.set(s, [...(byStatus.get(s) ?? []), `${name} (${code})`]);
  }
  w('### gRPC status mapping', '',
    'From `core/wire/status.ts`. Codes not listed there map to `INTERNAL`.', '',
    '| gRPC status | Result codes |', '| --- | --- |');
  for (const [s, list] of [...byStatus].sort((a, b) => a[0].localeCompare(b[0]))) w(`| \`${s}\` | ${list.join(', ')} |`);
  w('');
}

function renderRetries(w: Writer): void {
  w('## Deadlines, retries and "in doubt"', '',
    '**Always set a deadline.** A node does not bound a unary call by itself; a deadline makes the',
    'client give up and the server stop working on a cancelled scan, query or aggregation (it checks',
    'between records). For unary calls 1 s is the default of the TypeScript client and of aql; for',
    'streams (Scan, Query, AqlService.Execute, UdfService.Aggregate) set one that covers the whole',
    'stream, or none and cancel the call when done. A server-side timeout (`TIMEOUT` 9,',
    '`QUERY_TIMEOUT` 212) is `DEADLINE_EXCEEDED` with a result code; a client-side deadline is',
    '`DEADLINE_EXCEEDED` without one.', '',
    '### Which calls are safe to retry', '',
    '| Calls | Retry? |', '| --- | --- |',
    '| Reads: `Get`, `Exists`, `BatchGet`, every `AdminService` call, `ListIndexes`, `GetIndexStat`, `Explain`, `QueryService.Aggregate`, `ListModules`, `GetModule`, `ListJobs`, cluster info | Yes, always. |',
    '| `Scan`, `Query` (streams) | Yes: resume rather than restart. A scan resumes with `partitions` from the last record\'s partition on and `after_digest` = its digest; a query with `cursor` = the last response\'s cursor. |',
    '| `Put` with exists action UPDATE / REPLACE / UNSPECIFIED and no generation check | Yes: writing the same bins again gives the same bins (the generation grows once more). |',
    '| `Put` CREATE_ONLY, or with a generation check | Retry, then read: `RECORD_EXISTS` (5) or `GENERATION` (3) on the retry may mean the first attempt succeeded. |',
    '| `Delete`, `Touch` | Retry; a `NOT_FOUND` (2) after a retried delete means it is gone. A touch bumps the generation again. |',
    '| `Operate` with add / append / prepend / list or map changes, `ApplyRecordUdf`, `StartBackgroundJob` | **No**, unless the application can tell whether the first attempt ran (e.g. check-and-set on the generation it read). Each attempt applies the increment again. |',
    '| `Truncate`, `CreateIndex`, `DropIndex`, `RegisterModule`, `RemoveModule` | Yes: a retry finds the work done (`INDEX_FOUND` 200 / `INDEX_NOT_FOUND` 201 mean that). |',
    '', '### Which failures to retry', '',
    'Retry only transient failures, with a growing pause (the TypeScript client: 50 ms, doubled each',
    'time, 2 retries for reads, none for writes unless asked):', '',
    '- no connection: `UNAVAILABLE` **without** a result code (the node is down or restarting);',
    '- `KEY_BUSY` (14): too many transactions wait on the same record (a hot key);',
    '- `DEVICE_OVERLOAD` (18), `UNAVAILABLE` (11, e.g. a partition moving during a cluster change),',
    '  `TIMEOUT` (9) — for the calls marked safe above.', '',
    'Do not retry `PARAMETER` (4), `NAMESPACE` (20), `BIN_TYPE` (12), `RECORD_TOO_BIG` (13),',
    '`GENERATION` (3), `RECORD_EXISTS` (5), `NOT_FOUND` (2), `OUT_OF_SPACE` (8), `UDF` (100): the same',
    'request fails the same way.', '',
    '### "In doubt"', '',
    'A write is **in doubt** when the client cannot know whether the node applied it: the deadline',
    'passed or the connection broke after the request was sent. The node may have applied it before',
    'the deadline, or not — but **never after it**: a write carries the call\'s deadline (the gRPC',
    'deadline; over the Aerospike protocol the message\'s transaction TTL), and a node that reaches',
    'the write only after it (the write waited for its record, or was forwarded to the master',
    'through a cluster change) refuses it with `TIMEOUT` not in doubt, without writing. So a write',
    'in doubt cannot overwrite the writes the client makes after it failed. The server says so with the trailer `slipstream-in-doubt: true`; a',
    'client-side `DEADLINE_EXCEEDED` or a broken connection during a write is in doubt too (the',
    'TypeScript client sets `DbError.inDoubt`). Reads are never in doubt. To resolve a write in doubt,',
    'read the record and compare (generation, bins), or make the write idempotent and retry it.', '');
}

function renderGrpcurl(w: Writer): void {
  w('## Calling with grpcurl and other generic tools', '',
    'Reflection is on, so tools need no `.proto` files. With',
    '[grpcurl](https://github.com/fullstorydev/grpcurl) (add `-proto proto/slipstream/v1/kv.proto',
    '-import-path proto` to work without reflection):', '',
    '```sh',
    'grpcurl -plaintext 127.0.0.1:3000 list',
    'grpcurl -plaintext 127.0.0.1:3000 describe slipstream.v1.KeyValueService',
    'grpcurl -plaintext 127.0.0.1:3000 describe slipstream.v1.WritePolicy',
    '',
    '# health: the standard grpc.health.v1 service ("" for the node, or a service name); reflection',
    '# describes it too (grpc_health_probe -addr=127.0.0.1:3000 works as well)',
    'grpcurl -plaintext -d \'{"service":"slipstream.v1.KeyValueService"}\' 127.0.0.1:3000 grpc.health.v1.Health/Check',
    '',
    '# put: 64-bit integers are JSON strings in the proto3 JSON mapping, bytes are base64',
    'grpcurl -plaintext -d \'{"key":{"namespace":"test","set":"demo","stringKey":"k1"},',
    '  "bins":[{"name":"name","value":{"string":"Ada"}},{"name":"age","value":{"int":"36"}}],',
    '  "policy":{"sendKey":true,"ttl":"3600"}}\' 127.0.0.1:3000 slipstream.v1.KeyValueService/Put',
    '',
    '# get some bins, with a 500 ms deadline',
    'grpcurl -plaintext -max-time 0.5 -d \'{"key":{"namespace":"test","set":"demo","stringKey":"k1"},"bins":["age"]}\' \\',
    '  127.0.0.1:3000 slipstream.v1.KeyValueService/Get',
    '',
    '# a missing record: the trailers show the result code',
    'grpcurl -plaintext -v -d \'{"key":{"namespace":"test","set":"demo","stringKey":"nope"}}\' \\',
    '  127.0.0.1:3000 slipstream.v1.KeyValueService/Get',
    '#   Response trailers received:',
    '#   slipstream-result-code: 2',
    '#   slipstream-result-name: AEROSPIKE_ERR_RECORD_NOT_FOUND',
    '#   ERROR: Code: NotFound  Message: AEROSPIKE_ERR_RECORD_NOT_FOUND (2): record not found …',
    '',
    '# operate: add 1 to age and read it back, atomically',
    'grpcurl -plaintext -d \'{"key":{"namespace":"test","set":"demo","stringKey":"k1"},',
    '  "operations":[{"add":{"bin":"age","value":{"int":"1"}}},{"read":{"bin":"age"}}]}\' \\',
    '  127.0.0.1:3000 slipstream.v1.KeyValueService/Operate',
    '',
    '# scan a set (a stream: one JSON object per record)',
    'grpcurl -plaintext -d \'{"namespace":"test","set":"demo","maxRecords":"10"}\' 127.0.0.1:3000 slipstream.v1.KeyValueService/Scan',
    '',
    '# query with a filter expression, and an aggregate',
    'grpcurl -plaintext -d \'{"namespace":"test","set":"demo","filterJson":"{\\"kind\\":\\"cmp\\",\\"op\\":\\">\\",\\"left\\":{\\"kind\\":\\"bin\\",\\"name\\":\\"age\\"},\\"right\\":{\\"kind\\":\\"lit\\",\\"value\\":30}}"}\' \\',
    '  127.0.0.1:3000 slipstream.v1.QueryService/Query',
    'grpcurl -plaintext -d \'{"query":{"namespace":"test","set":"demo"},"function":"SUM","bin":"age"}\' \\',
    '  127.0.0.1:3000 slipstream.v1.QueryService/Aggregate',
    '',
    '# node information',
    'grpcurl -plaintext 127.0.0.1:3000 slipstream.v1.AdminService/GetNodeInfo',
    '```', '',
    'Other reflection-aware tools (grpcui, Postman, Kreya, evans) work the same way. The test',
    '`test/interop/reflection.test.ts` does what grpcurl does: it lists the services over reflection,',
    'fetches their descriptors, builds a client from them alone and calls the node with JSON.', '');
}

function renderCompatibility(w: Writer): void {
  w('## Compatibility', '',
    'The protos are linted with buf (`STANDARD` and `COMMENTS`) and checked for breaking changes',
    '(`FILE` rules) against the last release, kept in `proto/releases/`. CI fails on a breaking',
    'change (`test/interop/buf-breaking.test.ts`; by hand: `npm run proto:breaking`). Within',
    '`slipstream.v1` fields and methods are only added; a field that goes away is `reserved`.', '',
    'A request carrying a field this server does not know (a client built from newer protos) is',
    'refused with PARAMETER (4), naming the field number and where it was; it is never dropped',
    'silently (`test/server/cdt-context-grpc.test.ts` sends an unknown field to every method).', '');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = renderApiDocs(buildDescriptors());
  if (process.argv.includes('--check')) {
    let have = '';
    try { have = readFileSync(API_DOC_PATH, 'utf8'); } catch { /* missing: differs */ }
    if (have !== text) {
      console.error('docs/api.md is not what the protos generate: run `npm run docs:api` and commit it');
      process.exit(1);
    }
    console.log('docs/api.md matches proto/');
  } else {
    writeFileSync(API_DOC_PATH, text);
    console.log(`wrote docs/api.md (${text.split('\n').length} lines)`);
  }
}
