import { connect } from 'node:net';

/**
 * One info request over the Aerospike protocol (as `asinfo -v <command>` sends it) to a node on
 * 127.0.0.1; resolves with the value of its answer line.
 */
export function aerospikeInfo(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const body = Buffer.from(`${command}\n`);
    const h = Buffer.alloc(8);
    h[0] = 2; h[1] = 1;
    h.writeUIntBE(body.length, 2, 6);
    s.write(Buffer.concat([h, body]));
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 8 && buf.length >= 8 + buf.readUIntBE(2, 6)) {
        s.destroy();
        resolve(buf.subarray(8).toString().split('\t')[1]?.trim() ?? '');
      }
    });
    s.on('error', reject);
  });
}
