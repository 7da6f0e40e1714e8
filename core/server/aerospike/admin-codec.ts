/**
 * The admin (security) messages of the Aerospike protocol (proto type 2), as the clients build
 * them (as_admin.c, AdminCommand.java): a 16-byte header — result at byte 1, command at byte 2,
 * field count at byte 3 — then fields of `size(4, counting the id) id(1) value`. Roles travel as
 * `count(1) (len(1) name)*`, privileges as `count(1) (code(1) [len(1) ns len(1) set])*` (the
 * namespace and set only for the scopable codes ≥ 10), allow-lists as comma-separated text and
 * quotas as 32-bit big-endian integers. Query answers are a run of such records, each with
 * result 0, ended by a record whose result is QUERY_END (50).
 */
import { DbError } from '../../errors/index.ts';
import { isScopable, privilegeByCode, PRIVILEGE_CODES, type Privilege } from '../../security/privileges.ts';
import { writeProtoHeader } from './connection.ts';
import { MessageType, PROTO_HEADER_BYTES } from './protocol.ts';

/** Admin commands (as_admin.h). */
export const AdminCommand = {
  AUTHENTICATE: 0,
  CREATE_USER: 1,
  DROP_USER: 2,
  SET_PASSWORD: 3,
  CHANGE_PASSWORD: 4,
  GRANT_ROLES: 5,
  REVOKE_ROLES: 6,
  QUERY_USERS: 9,
  CREATE_ROLE: 10,
  DROP_ROLE: 11,
  GRANT_PRIVILEGES: 12,
  REVOKE_PRIVILEGES: 13,
  SET_WHITELIST: 14,
  SET_QUOTAS: 15,
  QUERY_ROLES: 16,
  LOGIN: 20,
} as const;

/** Admin field ids. */
export const AdminField = {
  USER: 0,
  PASSWORD: 1,
  OLD_PASSWORD: 2,
  CREDENTIAL: 3,
  CLEAR_PASSWORD: 4,
  SESSION_TOKEN: 5,
  SESSION_TTL: 6,
  ROLES: 10,
  ROLE: 11,
  PRIVILEGES: 12,
  WHITELIST: 13,
  READ_QUOTA: 14,
  WRITE_QUOTA: 15,
  READ_INFO: 16,
  WRITE_INFO: 17,
  CONNECTIONS: 18,
} as const;

export const ADMIN_HEADER_BYTES = 16;
const QUERY_END = 50;
/** Query answers are cut into proto messages of about this size. */
const QUERY_BLOCK_BYTES = 64 * 1024;

export type AdminFieldList = ReadonlyArray<readonly [number, Buffer]>;

/** A parsed admin request: its command and fields by id. */
export class AdminRequest {
  readonly command: number;
  private readonly fields: Map<number, Buffer>;

  private constructor(command: number, fields: Map<number, Buffer>) {
    this.command = command;
    this.fields = fields;
  }

  static parse(body: Buffer): AdminRequest {
    if (body.length < ADMIN_HEADER_BYTES) throw new DbError('INVALID_FIELD', 'the admin message header is cut off', { hint: 'send admin messages as the Aerospike clients build them' });
    const command = body[2] as number;
    const n = body[3] as number;
    const fields = new Map<number, Buffer>();
    let p = ADMIN_HEADER_BYTES;
    for (let i = 0; i < n; i++) {
      if (p + 5 > body.length) throw new DbError('INVALID_FIELD', `admin field ${i} is cut off`);
      const size = body.readUInt32BE(p);
      if (size < 1 || p + 4 + size > body.length) throw new DbError('INVALID_FIELD', `admin field ${i} has a bad size ${size}`);
      fields.set(body[p + 4] as number, body.subarray(p + 5, p + 4 + size));
      p += 4 + size;
    }
    if (p !== body.length) throw new DbError('INVALID_FIELD', `${body.length - p} bytes follow the last admin field`, { hint: 'the field count in the header must match the fields sent' });
    return new AdminRequest(command, fields);
  }

  has(id: number): boolean {
    return this.fields.has(id);
  }

  /** A text field, or undefined when absent. */
  text(id: number): string | undefined {
    return this.fields.get(id)?.toString('utf8');
  }

  /** A text field the command cannot do without. */
  required(id: number, what: string): string {
    const v = this.text(id);
    if (v === undefined || v.length === 0) throw new DbError('INVALID_FIELD', `this admin command needs ${what}`, { hint: 'send the command as the Aerospike clients build it' });
    return v;
  }

  /** A role list field: `count (len name)*`. */
  roles(): string[] {
    const b = this.fields.get(AdminField.ROLES);
    if (b === undefined) throw new DbError('INVALID_FIELD', 'this admin command needs a role list', { hint: 'name at least one role' });
    const out: string[] = [];
    let p = 1;
    for (let i = 0; i < (b[0] ?? 0); i++) {
      const len = b[p];
      if (len === undefined || p + 1 + len > b.length) throw new DbError('INVALID_FIELD', `role ${i} of the role list is cut off`);
      out.push(b.toString('utf8', p + 1, p + 1 + len));
      p += 1 + len;
    }
    if (b.length === 0 || p !== b.length) throw new DbError('INVALID_FIELD', 'the role list does not match its count');
    return out;
  }

  /** A privilege list field; an empty list when absent. */
  privileges(): Privilege[] {
    const b = this.fields.get(AdminField.PRIVILEGES);
    if (b === undefined) return [];
    const out: Privilege[] = [];
    let p = 1;
    const str = (): string => {
      const len = b[p];
      if (len === undefined || p + 1 + len > b.length) throw new DbError('INVALID_FIELD', 'a privilege scope is cut off');
      const s = b.toString('utf8', p + 1, p + 1 + len);
      p += 1 + len;
      return s;
    };
    for (let i = 0; i < (b[0] ?? 0); i++) {
      const code = b[p++];
      const name = code === undefined ? undefined : privilegeByCode(code);
      if (name === undefined) throw new DbError('INVALID_PRIVILEGE', `unknown privilege code ${String(code)}`, { hint: `use one of ${Object.values(PRIVILEGE_CODES).join(', ')}` });
      if (!isScopable(name)) { out.push({ name }); continue; }
      const namespace = str();
      const set = str();
      if (namespace === '' && set !== '') throw new DbError('INVALID_PRIVILEGE', `privilege '${name}' names a set without a namespace`, { hint: 'scope a set privilege to its namespace too' });
      out.push({ name, ...(namespace === '' ? {} : { namespace }), ...(set === '' ? {} : { set }) });
    }
    if (b.length === 0 || p !== b.length) throw new DbError('INVALID_FIELD', 'the privilege list does not match its count');
    return out;
  }

  /** An allow-list field (comma-separated addresses); empty when absent. */
  whitelist(): string[] {
    const t = this.text(AdminField.WHITELIST);
    return t === undefined || t === '' ? [] : t.split(',');
  }

  /** A 32-bit quota field; 0 (no limit) when absent. */
  quota(id: number): number {
    const b = this.fields.get(id);
    if (b === undefined) return 0;
    if (b.length !== 4) throw new DbError('INVALID_QUOTA', `a quota field has ${b.length} bytes, not 4`);
    return b.readUInt32BE(0);
  }
}

function record(result: number, command: number, fields: AdminFieldList): Buffer {
  const size = ADMIN_HEADER_BYTES + fields.reduce((n, [, v]) => n + 5 + v.length, 0);
  const out = Buffer.alloc(size);
  out[1] = result;
  out[2] = command;
  out[3] = fields.length;
  let p = ADMIN_HEADER_BYTES;
  for (const [id, v] of fields) {
    out.writeUInt32BE(v.length + 1, p);
    out[p + 4] = id;
    v.copy(out, p + 5);
    p += 5 + v.length;
  }
  return out;
}

function proto(body: Buffer): Buffer {
  const head = Buffer.alloc(PROTO_HEADER_BYTES);
  writeProtoHeader(head, MessageType.ADMIN, body.length);
  return Buffer.concat([head, body]);
}

/** An admin reply: one record with the result (and the command answered) and the fields. */
export function adminReply(command: number, result: number, fields: AdminFieldList = []): Buffer {
  return proto(record(result, command, fields));
}

/** A query answer: the rows as records with result 0, then the QUERY_END record, in proto messages of bounded size. */
export function adminQueryReply(command: number, rows: readonly AdminFieldList[]): Buffer {
  const messages: Buffer[] = [];
  let block: Buffer[] = [];
  let size = 0;
  for (const row of rows) {
    const r = record(0, command, row);
    if (size + r.length > QUERY_BLOCK_BYTES && block.length > 0) {
      messages.push(proto(Buffer.concat(block)));
      block = [];
      size = 0;
    }
    block.push(r);
    size += r.length;
  }
  block.push(record(QUERY_END, command, []));
  messages.push(proto(Buffer.concat(block)));
  return Buffer.concat(messages);
}

export const textField = (id: number, text: string): readonly [number, Buffer] => [id, Buffer.from(text, 'utf8')];

export function u32Field(id: number, value: number): readonly [number, Buffer] {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.max(0, Math.min(0xffff_ffff, Math.floor(value))));
  return [id, b];
}

/** A one-byte-length string, as roles and privilege scopes are written. */
function short(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length > 255) throw new DbError('INVALID_FIELD', `'${text.slice(0, 40)}…' is longer than 255 bytes`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** A READ_INFO / WRITE_INFO field: a count byte, then that many u32 figures. */
export function figuresField(id: number, figures: readonly number[]): readonly [number, Buffer] {
  const b = Buffer.alloc(1 + 4 * figures.length);
  b[0] = figures.length;
  figures.forEach((v, i) => b.writeUInt32BE(Math.max(0, Math.min(0xffff_ffff, Math.floor(v))), 1 + 4 * i));
  return [id, b];
}

export function rolesField(roles: readonly string[]): readonly [number, Buffer] {
  return [AdminField.ROLES, Buffer.concat([Buffer.from([roles.length]), ...roles.map(short)])];
}

export function privilegesField(privileges: readonly Privilege[]): readonly [number, Buffer] {
  const parts: Buffer[] = [Buffer.from([privileges.length])];
  for (const p of privileges) {
    parts.push(Buffer.from([PRIVILEGE_CODES[p.name]]));
    if (isScopable(p.name)) parts.push(short(p.namespace ?? ''), short(p.set ?? ''));
  }
  return [AdminField.PRIVILEGES, Buffer.concat(parts)];
}
