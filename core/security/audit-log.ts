/**
 * The audit trail: one JSON line per security-relevant event — logins and failed logins,
 * permission violations, user and role changes, UDF registration, truncates, index changes,
 * configuration changes — with who, from where, when and the outcome. Written to a file of
 * its own (appended) or, without one, to the node log under `audit: true`. Passwords and
 * tokens are never among the fields.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../plugin-api/index.ts';

export type AuditEventKind =
  | 'login' | 'login-failed' | 'authentication-failed' | 'permission-denied'
  | 'user-created' | 'user-dropped' | 'password-set' | 'roles-granted' | 'roles-revoked'
  | 'role-created' | 'role-dropped' | 'privileges-granted' | 'privileges-revoked' | 'whitelist-set' | 'quotas-set'
  | 'udf-registered' | 'udf-removed' | 'truncate' | 'index-created' | 'index-dropped' | 'config-changed'
  | 'session-secret-rotated';

export interface AuditEvent {
  readonly event: AuditEventKind;
  /** The acting user, when known. */
  readonly user?: string;
  /** The client's address. */
  readonly address?: string;
  readonly outcome: 'ok' | 'refused' | 'failed';
  /** The result code of a refusal or failure. */
  readonly resultCode?: number;
  /** What was acted on: the user or role changed, the namespace truncated, the method refused, … */
  readonly detail?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

export interface AuditSink {
  record(event: AuditEvent): void;
  close(): Promise<void>;
}

export class AuditLog implements AuditSink {
  /** The audit file, appended with one synchronous write per event so that no event waits in a buffer. */
  private fd: number | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(options: { readonly file?: string; readonly logger: Logger; readonly now: () => number }) {
    this.logger = options.logger;
    this.now = options.now;
    if (options.file !== undefined) {
      mkdirSync(dirname(options.file), { recursive: true });
      this.fd = openSync(options.file, 'a', 0o600);
    }
  }

  record(event: AuditEvent): void {
    const line = { time: new Date(this.now()).toISOString(), ...event };
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, `${JSON.stringify(line)}\n`);
      } catch (err) {
        this.logger.error({ err, ...line }, 'the audit log cannot be written; the event follows');
      }
    } else {
      this.logger.info({ audit: true, ...line }, `audit: ${event.event} ${event.outcome}`);
    }
  }

  async close(): Promise<void> {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
