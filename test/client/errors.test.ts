import { strict as assert } from 'node:assert';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { fromServiceError } from '../../core/client/errors.ts';

const grpcError = (code: status, details: string): ServiceError => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });

describe('client/errors: transport failures as DbErrors', () => {
  it('a deadline, or a connection dropped with the request sent, is in doubt; a connection never made is not', () => {
    const timeout = fromServiceError(grpcError(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.002s'));
    assert.equal(timeout.code, 'TIMEOUT');
    assert.equal(timeout.inDoubt, true);
    const dropped = fromServiceError(grpcError(status.UNAVAILABLE, 'Connection dropped'));
    assert.equal(dropped.code, 'CONNECTION');
    assert.equal(dropped.inDoubt, true, 'the node may have applied the write before it died');
    const refused = fromServiceError(grpcError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1'));
    assert.equal(refused.code, 'CONNECTION');
    assert.equal(refused.inDoubt, false);
  });
});
