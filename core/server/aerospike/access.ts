/**
 * Access control for the Aerospike protocol, through the same model as gRPC: with security on,
 * a connection must LOGIN (user + credential: the bcrypt hash Aerospike clients send) or
 * AUTHENTICATE (user + session token) before anything else — until then an AS_MSG answers
 * NOT_AUTHENTICATED (80) and an info request `ERROR:80:not authenticated` — and then every
 * command is checked: reads, writes, record UDFs, scans and queries on the namespace/set they
 * name, each row of a batch, and the info commands that change things (udf-put, truncate,
 * sindex-create, query-abort, …).
 */
import { DbError, toDbError } from '../../errors/index.ts';
import type { Principal, Security } from '../../security/security.ts';
import type { Permission } from '../../security/privileges.ts';
import { parseBatch } from './batch.ts';
import type { InfoCommand } from './info.ts';
import type { Msg } from './message.ts';
import { Field, Info1, Info2 } from './protocol.ts';
import { AdminCommand, AdminField, AdminRequest, adminReply, textField, u32Field } from './admin-codec.ts';
import { UserCommands } from './user-commands.ts';

/** UDF_OP values of a stream UDF: an aggregation reads; a background UDF writes. */
const UDF_OP_AGGREGATE = 1;

const byteCode = (code: number): number => (code >= 0 && code <= 255 ? code : 1);

let connectionSeq = 0;

/** One Aerospike-protocol connection's view of security. */
export class WireAccess {
  private readonly security: Security;
  private readonly address: string;
  private principal: Principal | undefined;
  /** This connection in the per-user connection counts. */
  private readonly connection = `aerospike ${++connectionSeq}`;

  constructor(security: Security, address: string) {
    this.security = security;
    this.address = address;
  }

  /** The connection closed: it no longer counts for its user. */
  closed(): void {
    this.security.activity.detach(this.connection);
  }

  /** From now on the connection is `p`'s (it counts for that user; QUOTA_EXCEEDED past the per-user limit). */
  private become(p: Principal): void {
    if (this.principal !== undefined && this.principal.user !== p.user) this.security.activity.detach(this.connection);
    this.security.activity.attach(p.user, this.connection);
    this.principal = p;
  }

  /** Answers an admin message: LOGIN and AUTHENTICATE, then the user and role commands as the caller. */
  async admin(body: Buffer): Promise<Buffer> {
    let command = body.length > 2 ? body[2] as number : 0;
    try {
      const req = AdminRequest.parse(body);
      command = req.command;
      const user = req.text(AdminField.USER);
      if (command === AdminCommand.LOGIN) {
        const credential = req.text(AdminField.CREDENTIAL);
        const clear = req.text(AdminField.CLEAR_PASSWORD);
        if (user === undefined || (credential === undefined && clear === undefined)) throw new DbError('INVALID_FIELD', 'LOGIN needs USER and CREDENTIAL');
        const r = await this.security.login(user, credential !== undefined ? { credential } : { password: clear as string }, this.address);
        this.become(await this.security.authenticate({ token: r.token }, this.address));
        return adminReply(command, 0, [textField(AdminField.SESSION_TOKEN, r.token), u32Field(AdminField.SESSION_TTL, r.ttlSeconds)]);
      }
      if (command === AdminCommand.AUTHENTICATE) {
        const token = req.text(AdminField.SESSION_TOKEN);
        if (token === undefined) throw new DbError('INVALID_FIELD', 'AUTHENTICATE needs SESSION_TOKEN');
        const p = await this.security.authenticate({ token }, this.address);
        if (user !== undefined && user !== p.user) throw new DbError('NOT_AUTHENTICATED', 'the session token belongs to another user');
        this.become(p);
        return adminReply(command, 0);
      }
      return await new UserCommands(this.security, this.caller(), this.address).answer(req);
    } catch (err) {
      return adminReply(command, byteCode(toDbError(err).resultCode));
    }
  }

  /** The authenticated caller; NOT_AUTHENTICATED (80) before LOGIN or AUTHENTICATE. */
  caller(): Principal {
    if (this.principal === undefined) throw new DbError('NOT_AUTHENTICATED', 'this connection is not authenticated', { hint: 'log in (the client\'s user and password) first' });
    this.principal = this.security.current(this.principal, this.address);
    return this.principal;
  }

  get authenticated(): boolean {
    return this.principal !== undefined;
  }

  private check(principal: Principal, permission: Permission, namespace: string | undefined, set: string | undefined, what: string): void {
    this.security.authorize(principal, permission, namespace, set, what, this.address);
  }

  /** Checks an AS_MSG (single record, scan, query or batch) against the caller's privileges. */
  authorizeMsg(msg: Msg): void {
    const principal = this.caller();
    if ((msg.info1 & Info1.BATCH) !== 0) {
      const data = msg.fields.get(Field.BATCH_INDEX) ?? msg.fields.get(Field.BATCH_INDEX_WITH_SET);
      if (data === undefined) return; // the batch itself refuses it
      for (const row of parseBatch(data, msg.fields.get(Field.FILTER))) this.authorizeOne(principal, row.msg, 'batch');
      return;
    }
    this.authorizeOne(principal, msg, 'command');
  }

  private authorizeOne(principal: Principal, msg: Msg, what: string): void {
    const namespace = msg.fields.get(Field.NAMESPACE)?.toString('utf8');
    const set = msg.fields.get(Field.SET)?.toString('utf8') ?? '';
    const stream = !msg.fields.has(Field.DIGEST) && !msg.fields.has(Field.KEY);
    if (msg.fields.has(Field.UDF_PACKAGE_NAME)) {
      const op = msg.fields.get(Field.UDF_OP)?.[0];
      if (stream && op === UDF_OP_AGGREGATE) this.check(principal, 'read', namespace, set, `${what} (aggregation)`);
      else this.check(principal, 'udf', namespace, set, `${what} (UDF)`);
      return;
    }
    const writes = (msg.info2 & (Info2.WRITE | Info2.DELETE)) !== 0;
    if (writes) this.check(principal, 'write', namespace, set, what);
    if (!writes || (msg.info1 & Info1.READ) !== 0) this.check(principal, 'read', namespace, set, what);
    this.security.admit(principal, writes ? 'write' : 'read');
  }

  /** Checks one info command: the ones that change things need their admin permission. */
  authorizeInfo(cmd: InfoCommand): void {
    const principal = this.caller();
    const ns = cmd.params.get('namespace') ?? cmd.params.get('ns');
    const set = cmd.params.get('set');
    switch (cmd.name) {
      case 'udf-put': case 'udf-remove': this.check(principal, 'udf-admin', undefined, undefined, cmd.name); return;
      case 'sindex-create': case 'sindex-delete': this.check(principal, 'sindex-admin', undefined, undefined, cmd.name); return;
      case 'truncate': case 'truncate-namespace': case 'truncate-undo': this.check(principal, 'truncate', ns, set ?? '', cmd.name); return;
      case 'query-abort': case 'scan-abort': case 'query-kill': this.check(principal, 'job-admin', undefined, undefined, cmd.name); return;
      case 'set-config': case 'config-set': case 'quiesce': case 'quiesce-undo': case 'recluster': this.check(principal, 'sys-admin', undefined, undefined, cmd.name); return;
      default: this.check(principal, 'info', undefined, undefined, cmd.name);
    }
  }
}
