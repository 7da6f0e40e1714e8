// validator.js — validates bins before writing them, so bad data never reaches the record.
//
//   EXECUTE validator.save(JSON('{"email":"a@b.c","age":31}')) ON test.users WHERE PK = 'u1'
//
// Codes: 4001 missing field, 4002 bad email, 4003 bad age, 4004 unknown field.

const RULES = {
  email: (v) => typeof v === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) ? null : '4002:email must look like name@host.tld',
  age: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 150 ? null : '4003:age must be an integer from 0 to 150',
  name: (v) => typeof v === 'string' && v.length <= 100 ? null : '4004:name must be a string of at most 100 characters',
};
const REQUIRED = ['email'];

export function save(rec, fields) {
  for (const req of REQUIRED) {
    if (fields[req] === undefined && rec[req] === undefined) throw new Error(`4001:missing required field ${req}`);
  }
  for (const [k, v] of Object.entries(fields)) {
    const rule = RULES[k];
    if (rule === undefined) throw new Error(`4004:unknown field ${k}`);
    const problem = rule(v);
    if (problem !== null) throw new Error(problem);
  }
  for (const [k, v] of Object.entries(fields)) rec[k] = v;
  rec.updated = aerospike.currentTime();
  aerospike.update(rec);
  return record.binNames(rec).length;
}
