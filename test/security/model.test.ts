import { strict as assert } from 'node:assert';
import { DbError } from '../../core/errors/index.ts';
import { formatPrivilege, grants, parsePrivilege } from '../../core/security/privileges.ts';
import { SessionTokens } from '../../core/security/session-tokens.ts';
import { LoginThrottle } from '../../core/security/login-throttle.ts';
import { allowedFrom } from '../../core/security/security.ts';
import { credentialOf, hashCredential, isCredential, verifyCredential } from '../../core/security/passwords.ts';
import { Accounts } from '../../core/security/accounts.ts';
import { memorySystemMetadata } from '../../core/storage/system-metadata.ts';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    return err.code;
  }
  assert.fail('expected an error');
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    return err.code;
  }
  assert.fail('expected an error');
}

describe('security/model', () => {
  it('parses privileges as aql spells them and refuses scoped admin privileges', () => {
    assert.deepEqual(parsePrivilege('read'), { name: 'read' });
    assert.deepEqual(parsePrivilege('read-write.test'), { name: 'read-write', namespace: 'test' });
    assert.deepEqual(parsePrivilege('write.test.users'), { name: 'write', namespace: 'test', set: 'users' });
    assert.equal(formatPrivilege(parsePrivilege('truncate.bar.x')), 'truncate.bar.x');
    assert.equal(code(() => parsePrivilege('sys-admin.test')), 'INVALID_PRIVILEGE');
    assert.equal(code(() => parsePrivilege('root')), 'INVALID_PRIVILEGE');
    assert.equal(code(() => parsePrivilege('read.test.')), 'INVALID_PRIVILEGE');
    assert.equal(code(() => parsePrivilege('read.a.b.c')), 'INVALID_PRIVILEGE');
  });

  it('grants what each privilege includes, within its scope only', () => {
    const rw = parsePrivilege('read-write.test');
    assert.ok(grants(rw, 'read', 'test', 'users'));
    assert.ok(grants(rw, 'write', 'test', ''));
    assert.ok(!grants(rw, 'udf', 'test', ''));
    assert.ok(!grants(rw, 'read', 'bar', ''));
    const set = parsePrivilege('read.test.users');
    assert.ok(grants(set, 'read', 'test', 'users'));
    assert.ok(!grants(set, 'read', 'test', 'other'));
    assert.ok(!grants(set, 'read', 'test', ''));
    assert.ok(grants(parsePrivilege('read-write-udf'), 'udf', 'any', 'x'));
    assert.ok(grants(parsePrivilege('data-admin'), 'sindex-admin'));
    assert.ok(grants(parsePrivilege('data-admin'), 'truncate', 'test', ''));
    assert.ok(!grants(parsePrivilege('data-admin'), 'read', 'test', ''));
    assert.ok(!grants(parsePrivilege('user-admin'), 'sys-admin'));
    assert.ok(!grants(parsePrivilege('write'), 'read', 'test', ''));
  });

  it('derives the credential Aerospike clients send (bcrypt with the fixed salt), and verifies it through scrypt', async () => {
    const cred = await credentialOf('admin');
    assert.equal(cred, '$2a$10$7EqJtq98hPqEX7fNZaFWoO1mVO/4MLpGzsqojz6E9Gef6iXDjXdDa');
    assert.ok(isCredential(cred));
    const stored = await hashCredential(cred);
    assert.ok(!JSON.stringify(stored).includes(cred), 'the credential is not stored');
    assert.ok(await verifyCredential(cred, stored));
    assert.ok(!(await verifyCredential(await credentialOf('Admin'), stored)));
    assert.notEqual((await hashCredential(cred)).salt, stored.salt, 'a fresh salt per hash');
  });

  it('session tokens: forged, altered or expired tokens are refused', () => {
    const t = new SessionTokens(SessionTokens.newSecret());
    const token = t.issue({ user: 'ada', epoch: 3, expiresMs: 2000 });
    assert.deepEqual(t.verify(token, 1000), { user: 'ada', epoch: 3, expiresMs: 2000 });
    assert.equal(code(() => t.verify(token, 2000)), 'EXPIRED_SESSION');
    const other = new SessionTokens(SessionTokens.newSecret());
    assert.equal(code(() => other.verify(token, 1000)), 'NOT_AUTHENTICATED');
    const [v, payload, mac] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ u: 'admin', g: 3, e: 9e15, n: 'x' })).toString('base64url');
    assert.equal(code(() => t.verify(`${v}.${forged}.${mac}`, 1000)), 'NOT_AUTHENTICATED');
    assert.equal(code(() => t.verify(`${v}.${payload}`, 1000)), 'NOT_AUTHENTICATED');
    assert.equal(code(() => t.verify('garbage', 1000)), 'NOT_AUTHENTICATED');
    assert.equal(code(() => t.verify('v1.' + 'a'.repeat(5000), 1000)), 'NOT_AUTHENTICATED');
  });

  it('session tokens: a rotated secret keeps old tokens only through the grace period', () => {
    const first = SessionTokens.newSecret();
    const t = new SessionTokens(first);
    const old = t.issue({ user: 'ada', epoch: 1, expiresMs: 10_000 });
    t.setKeys({ current: SessionTokens.newSecret(), previous: { secret: first, untilMs: 5000 } });
    assert.equal(t.verify(old, 4999).user, 'ada', 'within the grace period');
    assert.equal(code(() => t.verify(old, 5000)), 'EXPIRED_SESSION', 'after it');
    const fresh = t.issue({ user: 'ada', epoch: 1, expiresMs: 10_000 });
    assert.equal(t.verify(fresh, 9000).user, 'ada', 'new tokens use the new secret');
    t.setKeys({ current: SessionTokens.newSecret() });
    assert.equal(code(() => t.verify(old, 1000)), 'NOT_AUTHENTICATED', 'without a grace period the old secret is gone');
    assert.equal(code(() => t.verify(fresh, 1000)), 'NOT_AUTHENTICATED');
  });

  it('login throttle: free failures, then doubling delays up to a cap; success forgets', () => {
    const th = new LoginThrottle({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 350, forgetAfterMs: 1000 });
    assert.deepEqual([th.failed('a', 0), th.failed('a', 1), th.failed('a', 2), th.failed('a', 3), th.failed('a', 4)], [0, 0, 100, 200, 350]);
    assert.equal(th.failed('b', 5), 0, 'per address');
    th.succeeded('a');
    assert.equal(th.failed('a', 6), 0);
    assert.equal(th.failed('b', 5000), 0, 'a quiet period forgets');
  });

  it('allow-lists match addresses and CIDR blocks, IPv4-mapped IPv6 included', () => {
    assert.ok(allowedFrom(['127.0.0.1'], '127.0.0.1'));
    assert.ok(allowedFrom(['10.0.0.0/8'], '10.2.3.4'));
    assert.ok(allowedFrom(['10.0.0.0/8'], '::ffff:10.2.3.4'));
    assert.ok(!allowedFrom(['10.0.0.0/8'], '127.0.0.1'));
    assert.ok(allowedFrom(['::1'], '::1'));
  });

  it('accounts: users and roles are validated, predefined roles are fixed, dropping a role revokes it', async () => {
    const smd = memorySystemMetadata();
    const a = new Accounts(smd);
    const cred = await credentialOf('pw');
    await a.createUser('ada', cred, ['read']);
    assert.equal(await codeOf(a.createUser('ada', cred, [])), 'USER_ALREADY_EXISTS');
    assert.equal(await codeOf(a.createUser('bob', cred, ['nope'])), 'INVALID_ROLE');
    assert.equal(await codeOf(a.createUser('', cred, [])), 'INVALID_USER');
    assert.equal(await codeOf(a.createRole('read', [parsePrivilege('read')])), 'ROLE_ALREADY_EXISTS');
    assert.equal(await codeOf(a.createRole('empty', [])), 'INVALID_PRIVILEGE');
    assert.equal(await codeOf(a.createRole('w', [parsePrivilege('read')], ['not-an-ip'])), 'INVALID_WHITELIST');
    assert.equal(await codeOf(a.createRole('q', [parsePrivilege('read')], [], -1)), 'INVALID_QUOTA');
    await a.createRole('reader', [parsePrivilege('read.test')], ['127.0.0.0/8'], 10, 0);
    await a.grantRoles('ada', ['reader', 'reader']);
    assert.deepEqual(a.listUsers(), [{ name: 'ada', roles: ['read', 'reader'], mustChangePassword: false }]);
    await a.grantPrivileges('reader', [parsePrivilege('write.test.x'), parsePrivilege('read.test')]);
    assert.deepEqual(a.role('reader')?.privileges, [{ name: 'read', namespace: 'test' }, { name: 'write', namespace: 'test', set: 'x' }]);
    await a.revokePrivileges('reader', [parsePrivilege('read.test')]);
    assert.deepEqual(a.role('reader')?.privileges, [{ name: 'write', namespace: 'test', set: 'x' }]);
    assert.equal(await codeOf(a.dropRole('read')), 'INVALID_ROLE');
    await a.dropRole('reader');
    assert.deepEqual(a.user('ada')?.roles, ['read']);
    assert.equal(a.listRoles().filter((r) => r.predefined).length, 10);
    const epoch = a.user('ada')?.epoch ?? 0;
    await a.setPassword('ada', await credentialOf('new'));
    assert.equal(a.user('ada')?.epoch, epoch + 1);
    assert.equal(await a.verify('ada', cred), undefined);
    assert.ok(await a.verify('ada', await credentialOf('new')));
    await a.dropUser('ada');
    assert.equal(await codeOf(a.dropUser('ada')), 'INVALID_USER');
    // nothing stored holds the clear password or the credential
    const dump = JSON.stringify(smd.modules().map((m) => smd.module(m).list()));
    assert.ok(!dump.includes(cred));
    await smd.close();
  });
});
